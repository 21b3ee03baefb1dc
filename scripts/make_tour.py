"""Build docs/tour.ipynb from the cells below, then execute it in place (its outputs are saved).

    python scripts/make_tour.py            # write and run it (quick mode unless a GPU is present)
    python scripts/make_tour.py --no-run   # write the cells only

The notebook is the source users read; this script is how it is kept in one reviewable text: edit
the cells here, run the script, commit both. Needs the ``tour`` extra (nbformat, nbclient, ipykernel).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "docs" / "tour.ipynb"

CELLS = [
    (
        "md",
        """# The revival, in one notebook

Two ideas brought neural networks back in the late 2000s: **pretraining with restricted Boltzmann
machines** trained by contrastive divergence (Hinton 2002; Hinton, Osindero & Teh 2006) and
**dropout** (Hinton et al. 2012; Srivastava et al. 2014). This notebook runs each lesson of that
story with `revival`'s library, draws it, and says what to notice. Every number below was printed by
the code above it, on the machine named in the first output.

`QUICK` (on when `REVIVAL_TOUR_QUICK=1` or when there is no GPU) keeps every section small enough for
a laptop CPU: the 3,000 training digits of `mnist-sample`, which ships with the package, few epochs.
Off, the sections use full MNIST (`REVIVAL_DATA_DIR` must hold it) and longer training. The saved
outputs are from a quick run; seeds are fixed, so a re-run on the same machine prints the same.""",
    ),
    (
        "code",
        """import os, time, platform
import numpy as np
import torch
import matplotlib
import matplotlib.pyplot as plt
import matplotlib.ticker
import revival
from revival.threads import auto_threads

QUICK = os.environ.get("REVIVAL_TOUR_QUICK", "1" if not torch.cuda.is_available() else "0") == "1"
FIGURES = os.environ.get("REVIVAL_TOUR_FIGURES", "figures")  # where each section's figure is saved as a PNG
os.makedirs(FIGURES, exist_ok=True)
# quick mode on one thread: its numbers, and so the notes below them, repeat whatever else the machine runs
# (runs repeat bit for bit only at one thread count); a full run takes the cores free now
torch.set_num_threads(1 if QUICK else auto_threads()[0])
data = revival.load_dataset("mnist-sample" if QUICK else "mnist")
x_tr, y_tr, x_va, y_va, x_te, y_te = data.x_train, data.y_train, data.x_valid, data.y_valid, data.x_test, data.y_test
device = "cuda" if torch.cuda.is_available() else "cpu"
print(data)
print(f"QUICK={QUICK}, device {device}, torch {torch.__version__} on {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
T0 = T_LAST = time.perf_counter()


def save(fig, name):
    for ax in fig.axes:  # epochs and layers are whole numbers
        if ax.get_xlabel().startswith(("epoch", "layer")):
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    fig.tight_layout()
    fig.savefig(os.path.join(FIGURES, f"tour-{name}.png"), dpi=100, bbox_inches="tight")
    plt.show()


def lap():
    global T_LAST
    print(f"(this section: {time.perf_counter() - T_LAST:.0f} s on this machine)")
    T_LAST = time.perf_counter()


def error(pred, y):
    return 100 * float(np.mean(np.asarray(pred) != y))""",
    ),
    (
        "md",
        """## 1. Hand-made features or learned ones

Before deep learning a classifier was as good as the features a person designed for it. For
digits, two classical designs: undo the slant by the image's moments (deskewing, LeCun et al. 1998)
and describe the strokes by the directions of the image's gradients, counted in small cells
(histograms of oriented gradients, Dalal & Triggs 2005). An RBM instead *learns* features from the
images alone, without labels; a deep belief net stacks such layers, and backpropagation then
fine-tunes the whole stack for the labels. The same linear classifier (logistic regression) on three
inputs: the raw pixels, the hand-made features (`revival.sklearn.HOGTransformer(deskew=True)`), and
an RBM's features (scikit-learn's own pipeline, with `revival.sklearn.RBMTransformer` in place of
`BernoulliRBM`); then the deep net itself, a DBN fine-tuned end to end.""",
    ),
    (
        "code",
        """import warnings
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from revival import features
from revival.reporting.feature_drawing import draw_gradient_histograms
from revival.sklearn import HOGTransformer, RBMTransformer

warnings.filterwarnings("ignore")  # lbfgs' iteration-limit notes
raw = LogisticRegression(C=1.0, max_iter=300).fit(x_tr, y_tr)
hand = Pipeline([("hog", HOGTransformer(deskew=True)), ("logistic", LogisticRegression(C=10, max_iter=300))]).fit(x_tr, y_tr)
rbm_lr = Pipeline([("rbm", RBMTransformer(n_components=200, learning_rate=0.06, n_iter=10 if QUICK else 20,
                                          random_state=0, device=device)),
                   ("logistic", LogisticRegression(C=100, max_iter=300))]).fit(x_tr, y_tr)
dbn, _ = revival.fit_dbn(x_tr, revival.DBNConfig(layers=(500, 500), epochs=5 if QUICK else 30, device=device))
net, hist = revival.fit_net(x_tr, y_tr, revival.NetConfig(layers=(500, 500), activation="logistic", lr=0.1,
                            epochs=20 if QUICK else 100, device=device), init=dbn, valid=(x_va, y_va))
rows = [("pixels + logistic regression", error(raw.predict(x_te), y_te)),
        ("hand-made (deskew, HOG) + logistic regression", error(hand.predict(x_te), y_te)),
        ("learned (RBM) + logistic regression", error(rbm_lr.predict(x_te), y_te)),
        ("DBN pretrained, fine-tuned (784-500-500-10)", error(net.predict(x_te), y_te))]
for name, e in rows:
    print(f"{name:47s} test error {e:5.2f}%")

digits = x_te[:6]
upright = features.deskew(digits)
# each 4 x 4 cell's histogram of gradient directions (the features' first cell size) is drawn over the
# dimmed deskewed digit: a line per direction along the edge it stands for, as opaque as its share
W = rbm_lr.named_steps["rbm"].components_
W = W[np.argsort(-np.abs(W).sum(1))[:6]].reshape(6, 28, 28)  # the units with most weight: the clearest
D = dbn.rbms[0].weight.cpu().numpy()
D = D[np.argsort(-np.abs(D).sum(1))[:6]].reshape(6, 28, 28)
fig, axes = plt.subplots(5, 6, figsize=(7.5, 6.6))
for r, (images, label, signed) in enumerate([(digits.reshape(6, 28, 28), "digit", False),
                                             (upright.reshape(6, 28, 28), "deskewed", False),
                                             (upright, "gradients\\n(orange)", None), (W, "RBM units", True),
                                             (D, "DBN units", True)]):
    for ax, im in zip(axes[r], images):
        if signed is None:
            draw_gradient_histograms(ax, im)
        else:
            lim = np.abs(im).max()
            ax.imshow(im, cmap="RdBu_r" if signed else "gray", vmin=-lim if signed else None,
                      vmax=lim if signed else None)
        ax.set_xticks([]); ax.set_yticks([])
    axes[r][0].set_ylabel(label)
fig.suptitle("designed by a person (rows 2-3: deskewing; each 4 x 4 cell's gradient directions, drawn along their edges)\\n"
             "and learned from the images (rows 4-5: weights into a unit, red raises its input, blue lowers it)", fontsize=10)
save(fig, "features")
lap()""",
    ),
    (
        "md",
        """**What to notice.** At this size (3,000 labelled digits in quick mode) the designed features
win, and by far: the same logistic regression makes about seven times fewer errors on deskewed
gradient histograms than on the pixels, fewer than on the RBM's features, and fewer even than the
whole pretrained and fine-tuned deep net. The RBM's units (strokes, blobs, whole digit shapes, found
with no one designing them) do beat the pixels, and fine-tuning the stack beats the RBM's features
under a linear classifier; but deskewing and stroke directions encode what a person already knew
about digits, which the learned side has to find from examples. Section 2 follows how the
classical and the deep models change as the labelled set grows.""",
    ),
    (
        "md",
        """## 2. How much data a deep net needs

Classical models (k nearest neighbours, an RBF support-vector machine) do well with little data.
Does a deep net overtake them as the labelled examples grow? Srivastava et al. 2014 (Figure 10) saw
dropout nets gain most from a few thousand examples up. Each net here makes about the same number of
weight updates at every size, so the small sets are not simply under-trained.""",
    ),
    (
        "code",
        """from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC

sizes = [100, 300, 1000, 3000] if QUICK else [100, 300, 1000, 3000, 10000]
curves = {"deep net, dropout (784-500-500-10)": [], "kNN (k=3)": [], "RBF SVM (C=10)": []}
rng = np.random.default_rng(0)
for n in sizes:
    idx = np.sort(rng.permutation(len(y_tr))[:n])
    x, y = x_tr[idx], y_tr[idx]
    epochs = max(10, (1500 if QUICK else 20000) * 50 // n)  # about the same number of updates at every size
    cfg = revival.NetConfig(layers=(500, 500), hidden_dropout=0.5, input_dropout=0.2, batch_size=50,
                            lr=0.05, epochs=epochs, eval_every=epochs, device=device)
    net, _ = revival.fit_net(x, y, cfg)
    curves["deep net, dropout (784-500-500-10)"].append(error(net.predict(x_te), y_te))
    curves["kNN (k=3)"].append(error(KNeighborsClassifier(3).fit(x, y).predict(x_te), y_te))
    curves["RBF SVM (C=10)"].append(error(SVC(C=10).fit(x, y).predict(x_te), y_te))
    print(n, {k: round(v[-1], 2) for k, v in curves.items()})
lowest = [min(curves, key=lambda k: curves[k][i]) for i in range(len(sizes))]
print("lowest test error at each size:", ", ".join(f"{n}: {name}" for n, name in zip(sizes, lowest)))

fig, ax = plt.subplots(figsize=(6.5, 4))
for (name, errs), m in zip(curves.items(), "osd"):
    ax.plot(sizes, errs, marker=m, label=name)
ax.set(xscale="log", xlabel="labelled training images", ylabel="test error %", title="test error against data")
ax.grid(alpha=0.3); ax.legend()
save(fig, "data-size")
lap()""",
    ),
    (
        "md",
        """**What to notice.** Every model improves with data. The last printed line says which model is
lowest at each size: in the saved run the deep net and the RBF SVM take turns, within a point of each
other at every size up to 3,000 images (one seed, 1,000 test images: a point is about two standard
errors of such a difference), and nearest neighbours trail both. So with this little data the deep
net has no clear advantage; it needs more data than this sample holds: on MNIST-basic's 10,000 training images a
pretrained three-layer net is ahead of the SVM (2.86% against 3.09%, about two standard errors of
the difference; three seeds), and on all 60,000
the pretrained 784-500-500-2000 net reaches 1.22% (two seeds; docs/results.md, both run at full
length).""",
    ),
    (
        "md",
        """## 3. Overfitting, and what beat it

A big net can memorise a small training set: its training error goes to zero while the test error
stops improving. Regularizers fight that: dropout (drop 20% of pixels and half the hidden units at
each update), weight decay (an L2 cost), and pretraining on unlabelled images, here all 3,000
training images while only 1,000 have labels. (Max-norm, a bound on each unit's incoming weight
vector, pays off with dropout at high learning rates; compare-dropout's Srivastava presets run it.)""",
    ),
    (
        "code",
        """n_lab = 1000
x1, y1 = x_tr[:n_lab], y_tr[:n_lab]
epochs = 60 if QUICK else 200
base = dict(layers=(500, 500), activation="logistic", lr=0.1, epochs=epochs, device=device)
pre, _ = revival.fit_dbn(x_tr, revival.DBNConfig(layers=(500, 500), epochs=10 if QUICK else 30, device=device))
variants = {
    "no regularization": (revival.NetConfig(**base), None),
    "dropout 20% / 50%": (revival.NetConfig(**base, input_dropout=0.2, hidden_dropout=0.5), None),
    "weight decay 1e-3": (revival.NetConfig(**base, weight_decay=1e-3), None),
    "pretrained (3,000 unlabelled)": (revival.NetConfig(**base), pre),
}
hists = {}
for name, (cfg, init) in variants.items():
    _, hists[name] = revival.fit_net(x1, y1, cfg, init=init, valid=(x_va, y_va), test=(x_te, y_te))
    h = hists[name]
    k = int(np.argmin(h["test_loss"]))
    print(f"{name:30s} train error {100 * h['train_error'][-1]:5.2f}%  test error {100 * h['test_error'][-1]:5.2f}% "
          f"(at the lowest validation error, epoch {h.best_valid_epoch}: {100 * h.test_error_at_best_valid:5.2f}%)  "
          f"test loss lowest {h['test_loss'][k]:.3f} at epoch {h['epoch'][k]}, last {h['test_loss'][-1]:.3f}")

fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for (name, h), c in zip(hists.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
    axes[0].plot(h["epoch"], 100 * np.array(h["train_error"]), "--", color=c)
    axes[0].plot(h["epoch"], 100 * np.array(h["test_error"]), "-", color=c, label=name)
    axes[1].plot(h["epoch"], h["test_loss"], "-", color=c, label=name)
top = max(100 * max(h["test_error"] + h["train_error"]) for h in hists.values())  # every curve whole
axes[0].set(xlabel="epoch", ylabel="error %", title="train (dashed) and test (solid) error", ylim=(0, 1.05 * top))
axes[1].set(xlabel="epoch", ylabel="test cross-entropy", title="test loss (rising = overfitting)")
for ax in axes:
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
save(fig, "overfitting")
lap()""",
    ),
    (
        "md",
        """**What to notice.** Read the printed lines. A net that memorises its 1,000 images reaches zero
training error, and its test loss passes its lowest point and creeps up (the loss's lowest epoch is
well before the last); a regularizer that works keeps the training error above zero or the test loss
near its lowest. Each line also gives the test error at the epoch of lowest *validation* error: the
honest way to pick an epoch (never the lowest test error). In the saved run the clear gain comes from
pretraining on the unlabelled images: from the same 1,000 labels the pretrained net ends about 4
points lower than the others, the result that revived deep nets in 2006; dropout and weight decay
at these strengths move the test error by about a point or less, within what another seed could
change.""",
    ),
    (
        "md",
        """## 4. Restricted Boltzmann machines: CD-k, PCD, and the likelihood

An RBM is trained by contrastive divergence: CD-k runs k Gibbs steps from each training image,
persistent CD (PCD, Tieleman 2008) keeps its Markov chains from one update to the next. The
free-energy gap between validation and training images rises when an RBM overfits (Hinton's
Practical Guide). Its likelihood needs the partition function Z: AIS estimates log Z and tends to be
optimistic, RAISE is conservative; together they bracket the truth when they agree.""",
    ),
    (
        "code",
        """rbms, rbm_hist, lps = {}, {}, {}
ep = 10 if QUICK else 30
for name, cfg in {"CD-1": revival.RBMConfig(n_hidden=200, epochs=ep, device=device),
                  "CD-10": revival.RBMConfig(n_hidden=200, epochs=ep, cd_k=10, device=device),
                  "PCD": revival.RBMConfig(n_hidden=200, epochs=ep, persistent=True, lr=0.05, device=device)}.items():
    rbms[name], rbm_hist[name] = revival.fit_rbm(x_tr, cfg, x_valid=x_va)
    lps[name] = revival.log_prob(rbms[name], x_te, method="sandwich", train=x_tr, ais_runs=100,
                                 ais_betas=1000 if QUICK else 14501, raise_examples=100, binarize="stochastic")
    lp = lps[name]
    print(f"{name:6s} AIS {lp['avg_log_prob']:8.2f} nats on {lp['n_examples']} test images; on the first 100: "
          f"AIS {lp['ais_avg_log_prob_subset']:8.2f}, RAISE {lp['raise_avg_log_prob']:8.2f}")

fig, axes = plt.subplots(1, 4, figsize=(15, 3.8))
for ax, (name, rbm) in zip(axes[:3], rbms.items()):
    s = rbm.sample(25, gibbs_steps=1000, seed=1).reshape(5, 5, 28, 28).transpose(0, 2, 1, 3).reshape(140, 140)
    ax.imshow(s, cmap="gray"); ax.axis("off"); ax.set_title(f"{name}: samples after 1,000 Gibbs steps", fontsize=9)
for name, h in rbm_hist.items():
    axes[3].plot(h["epoch"], h["free_energy_gap"], marker="o", label=name)
axes[3].set(xlabel="epoch", ylabel="F(valid) - F(train)", title="free-energy gap (rising: overfitting)")
axes[3].grid(alpha=0.3); axes[3].legend()
save(fig, "rbm")

fig, ax = plt.subplots(figsize=(7.5, 3.8))
names = list(lps)
ais = [lps[n]["ais_avg_log_prob_subset"] for n in names]
rai = [lps[n]["raise_avg_log_prob"] for n in names]
xx = np.arange(len(names))
ax.vlines(xx, rai, ais, color="grey", linewidth=3, alpha=0.4)  # the sandwich: where the truth should lie
ax.plot(xx, ais, "v", markersize=10, label="AIS (optimistic)")
ax.plot(xx, rai, "^", markersize=10, label="RAISE (conservative)")
for x, a, r in zip(xx, ais, rai):
    ax.annotate(f"{a:.1f} / {r:.1f}", (x, max(a, r)), textcoords="offset points", xytext=(8, 4), fontsize=8)
ax.set(xticks=xx, xticklabels=names, xlim=(-0.5, len(names) - 0.2), ylabel="average log p(v), nats (higher is better)",
       title="test log-probability on the same 100 images (points, not bars: only differences matter)")
ax.grid(alpha=0.3, axis="y"); ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
save(fig, "likelihood")
lap()""",
    ),
    (
        "md",
        """**What to notice.** More Gibbs steps per update (CD-10) give a better likelihood than CD-1 and
long-run samples that look more like digits; CD-1's free-energy gap rises fastest. PCD needs many
small updates: in this short run (300 updates) its persistent chains have not mixed, its fantasies
are one digit over and over, and its likelihood is the lowest. With 7,500 updates on full MNIST it
reaches -109.1 nats, close to CD-3's -108.2 and well above CD-1's -120.0 (docs/rbm-likelihood.md):
a method is only as good as its budget.
Where AIS and RAISE nearly agree the likelihood is pinned down; a gap between them says the
estimates have not converged.""",
    ),
    (
        "md",
        """## 5. Activations and cost functions

Deep nets of logistic units trained badly from random starts (Glorot & Bengio 2010): the top
hidden layer is driven towards 0, where logistic units saturate, and gradients shrink towards the
input. tanh is zero-centred; ReLU units do
not saturate for positive inputs. The cost matters too: squared error on a softmax learns more
slowly than cross-entropy when the net is confidently wrong.""",
    ),
    (
        "code",
        """from revival.models.mlp import saturation, loss_fn

def layer_grads(net, x, y):
    # the cross-entropy gradient's norm for each layer's weights, on one batch, input layer first
    net.zero_grad()
    loss_fn(net(torch.as_tensor(x, device=device)), torch.as_tensor(y, device=device)).backward()
    return [float(l.weight.grad.norm()) for l in net.layers]

act_rows, ep = {}, 20 if QUICK else 100
for act in ("logistic", "tanh", "relu"):
    cfg = revival.NetConfig(layers=(300, 300, 300), activation=act, init_scheme="standard-uniform", lr=0.1,
                            epochs=ep, device=device)
    net, h = revival.fit_net(x_tr[:1000], y_tr[:1000], cfg, test=(x_te, y_te))
    acts = net.hidden_activations(torch.as_tensor(x_va[:1000], device=device))
    act_rows[act] = (h, layer_grads(net, x_va[:100], y_va[:100]), [float(saturation(a, act)) for a in acts])
    print(f"{act:8s} test error {100 * h['test_error'][-1]:5.2f}%   mean activation per hidden layer "
          f"{[round(float(a.mean()), 3) for a in acts]}   saturated share {[round(s, 3) for s in act_rows[act][2]]}   "
          f"gradient norm per layer {[f'{g:.2g}' for g in act_rows[act][1]]}")
losses = {}
for loss in ("cross-entropy", "mse"):
    _, losses[loss] = revival.fit_net(x_tr[:1000], y_tr[:1000], revival.NetConfig(layers=(300,), activation="logistic",
                                      loss=loss, lr=0.1, epochs=ep, device=device), test=(x_te, y_te))

fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
for act, (h, g, s) in act_rows.items():
    axes[0].plot(h["epoch"], 100 * np.array(h["test_error"]), label=act)
    axes[1].plot(range(1, len(g) + 1), g, marker="o", label=act)
axes[0].set(xlabel="epoch", ylabel="test error %", title="3 x 300 hidden, U(+-1/sqrt(fan_in)) start", ylim=(0, 100))
axes[1].set(xlabel="layer (1 = input side, 4 = output)", ylabel="||dL/dW||", yscale="log", xticks=[1, 2, 3, 4],
            title="gradient norm per layer after training")
for loss, h in losses.items():
    axes[2].plot(h["epoch"], 100 * np.array(h["test_error"]), label=loss)
axes[2].set(xlabel="epoch", ylabel="test error %", title="784-300-10 logistic: cost function", ylim=(0, 30))
for ax in axes:
    ax.grid(alpha=0.3); ax.legend()
save(fig, "activations")
lap()""",
    ),
    (
        "md",
        """**What to notice.** From this old-fashioned start the three-layer logistic net has not begun to
learn (in the saved run its test error is chance, 90%), and the printed gradient norms and the
middle panel show why: its gradient shrinks layer by layer on the way down to the input, while tanh
and ReLU pass gradients of similar size to every layer and train within a few epochs. The logistic
net's saturated share (outputs within 0.01 of 0 or 1) stays near 0 over these 20 epochs: its top
layer's mean sinks below the others' but has not reached the saturated band, which the paper saw
after far longer training. With the softmax output, cross-entropy learns faster than squared error
from the same start (right panel).""",
    ),
    (
        "md",
        """## 6. Hardware: why the revival needed GPUs

Both ideas are mostly matrix products. The same CD-1 epoch and the same dropout-net epoch on this
machine, in float32 and (where the CPU runs it fast) bfloat16, and on a GPU when one is present.""",
    ),
    (
        "code",
        """from revival.training.precision import probe

def epoch_seconds(fit, reps=2):
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter(); fit(); best = min(best, time.perf_counter() - t)
    return best

speeds = probe(torch.device("cpu"))
fast_bf16 = speeds["bf16"] > 1.5 * speeds["fp32"]
print(f"CPU matmul: fp32 {speeds['fp32']:.0f} GFLOP/s, bf16 {speeds['bf16']:.0f} GFLOP/s"
      f" ({'fast' if fast_bf16 else 'slow: emulated'} bf16 here)")
timings = {}
devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
for dev in devices:
    for prec in ["fp32"] + (["bf16"] if dev == "cuda" or fast_bf16 else []):
        timings[f"{dev} {prec}"] = (
            epoch_seconds(lambda: revival.fit_rbm(x_tr, revival.RBMConfig(n_hidden=500, epochs=1, precision=prec, device=dev))),
            epoch_seconds(lambda: revival.fit_net(x_tr, y_tr, revival.NetConfig(layers=(1024, 1024), hidden_dropout=0.5,
                                                  epochs=1, precision=prec, device=dev))))
# the matrix products alone of one CD-1 epoch: 6 products of [100 x 784] x [784 x 500] per batch
a, b = torch.rand(100, 784), torch.rand(784, 500)
mm = epoch_seconds(lambda: [a @ b for _ in range(6 * len(x_tr) // 100)])
for k, (r, n) in timings.items():
    print(f"{k:10s} CD-1 epoch of a 784-500 RBM on {len(x_tr)} images {r:6.3f} s;  784-1024-1024-10 dropout epoch {n:6.3f} s")
print(f"the CD-1 epoch's matrix products alone: {mm:.3f} s = {100 * mm / timings['cpu fp32'][0]:.0f}% of the epoch")
fig, ax = plt.subplots(figsize=(6.5, 3.2))
ax.barh(list(timings), [t[0] for t in timings.values()])
where = "on this machine's CPU and GPU" if len(devices) > 1 else "on this machine's CPU (no GPU here)"
ax.set(xlabel="seconds per CD-1 epoch (3,000 images, 784-500)" if QUICK else "seconds per CD-1 epoch",
       title=f"the same CD-1 epoch {where}")
ax.grid(alpha=0.3, axis="x")
save(fig, "hardware")
lap()""",
    ),
    (
        "md",
        """**What to notice.** Most of an epoch is matrix products, so the epoch costs what the machine's
matmul throughput allows (the printed share is the epoch's matrix products alone). A GPU's matmul
throughput is far above a CPU's, which is what made these models practical at the scale of the
papers; this notebook measures the GPU only where one is present (the saved run had none, so it
shows no GPU figure). On a CPU whose bfloat16 is emulated, reduced
precision is slower, not faster: revival probes before it uses it.""",
    ),
    (
        "md",
        """## 7. Where the papers' numbers stand

The scoreboard (docs/results.md): each published figure beside ours, and how far each run went;
the figure shows the rows run at the full protocol.""",
    ),
    (
        "code",
        """import re
import textwrap
from IPython.display import Markdown, display

# the scoreboard's rows (R1, R2, ...) in results.md, beside this notebook; not its other tables' "| RBF SVM |" rows
table = [line for line in open("results.md").read().splitlines() if re.match(r"\\| R\\d+ \\|", line)]
display(Markdown("| # | result | published | ours | length |\\n| --- | --- | --- | --- | --- |\\n" +
                 "\\n".join("|".join(line.split("|")[:6]) + "|" for line in table)))
pairs = []
for line in table:
    cells = [c.strip() for c in line.split("|")[1:-1]]
    # ours: "**1.87%**", or over seeds "**1.22 +- 0.04%**" (the mean is drawn)
    pub, ours = re.search(r"([0-9.]+)%", cells[2]), re.search(r"\\*\\*([0-9.]+)(?: \\+- [0-9.]+)?%\\*\\*", cells[3])
    if pub and ours and "literature" not in cells[2] and cells[4].startswith(("full protocol", "the paper's data sizes")):
        label = cells[1].split(": ")[-1].split(" (")[0].split(", ")[-1]
        pairs.append((f"{cells[0]}: " + textwrap.shorten(label, 44, placeholder="..."), float(pub.group(1)),
                      float(ours.group(1))))
fig, ax = plt.subplots(figsize=(9, 0.5 * len(pairs) + 1.8))
yy = np.arange(len(pairs))
ax.barh(yy - 0.2, [p[1] for p in pairs], 0.4, label="published")
ax.barh(yy + 0.2, [p[2] for p in pairs], 0.4, label="revival, the paper's length\\n(mean over its seeds)")
ax.set(yticks=yy, yticklabels=[p[0] for p in pairs], xlabel="test error %", title="published vs ours")
ax.invert_yaxis(); ax.grid(alpha=0.3, axis="x")
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2)  # below the bars: the axes keep the width
save(fig, "scoreboard")
lap()
print(f"the whole notebook: {time.perf_counter() - T0:.0f} s")""",
    ),
    (
        "md",
        """**What to notice.** Where a protocol fits on this CPU it has been run to its end, and the
numbers land near the papers'. Rows the CPU cannot finish say so in docs/results.md, with the
command to run them on a GPU.""",
    ),
]


def build():
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell(src) if kind == "md" else nbformat.v4.new_code_cell(src) for kind, src in CELLS
    ]
    return nb


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-run", action="store_true")
    a = ap.parse_args()
    import nbformat

    nb = build()
    if not a.no_run:
        from nbclient import NotebookClient

        os.environ.setdefault("REVIVAL_TOUR_FIGURES", "figures")
        os.environ["REVIVAL_PROGRESS"] = (
            "0"  # the saved outputs hold results, not progress bars (a reader's run shows them)
        )
        t = time.perf_counter()
        NotebookClient(
            nb, timeout=3600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
        ).execute()
        print(f"executed in {time.perf_counter() - t:.0f} s")
    nbformat.write(nb, NOTEBOOK)
    # the cells as ruff formats them (CI checks the notebook like the code; outputs are kept)
    import subprocess
    import sys

    subprocess.run([sys.executable, "-m", "ruff", "format", "-q", str(NOTEBOOK)], check=True)
    subprocess.run([sys.executable, "-m", "ruff", "check", "--fix", "-q", str(NOTEBOOK)], check=True)
    print(f"wrote {NOTEBOOK}")


if __name__ == "__main__":
    main()

"""Feed-forward nets with dropout (Srivastava et al. 2014; Hinton et al. 2012).

Two formulations of Bernoulli dropout (``dropout_scaling``), with retain probability q = 1 - p:

- ``paper`` (both papers): kept units pass unchanged while training, y = m * x; at test time the
  outgoing weights are multiplied by q ("weight scaling"), which is the same as multiplying the
  unit by q: the deterministic forward pass computes q * x.
- ``inverted`` (today's libraries): kept units are divided by q while training, y = m * x / q;
  the test-time net is the plain forward pass.

The two compute the same function when the inverted net's weights after a dropped layer are q
times the paper's (W' = q W). Trained by SGD they follow the same trajectory only if the
inverted net's learning rate for those weights is q^2 times the paper's, its weight decay 1/q^2
times, and its max-norm radius q times (dL/dW' = dL/dW / q); copying the papers' settings into an
inverted net changes them. Monte-Carlo inference averages the softmax output over k sampled masks
(the paper's Figure 11 comparison) in either formulation.

Gaussian dropout (section 10) multiplies each unit by r ~ N(1, sigma^2) with sigma^2 = p / (1 - p),
which has the same mean and variance as inverted Bernoulli dropout with drop probability p; it
needs no scaling at test time.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from revival.models import rbm as R

ACTIVATIONS = {"relu": torch.relu, "logistic": torch.sigmoid, "tanh": torch.tanh, "linear": lambda x: x}
DROPOUT_TYPES = ("bernoulli", "gaussian")
from revival.tables import DROPOUT_SCALINGS, INIT_SCHEMES  # noqa: E402 (the choices, declared once)


def dropout_noise(x, p: float, generator, kind: str) -> torch.Tensor:
    """The noise of one dropout layer over ``x``'s shape (and dtype): Bernoulli, the mask of kept units
    (1.0 where a uniform u >= p, else 0.0, written over the uniforms: no bool tensor, no cast later);
    Gaussian, the factors r = 1 + sigma z, z ~ N(0, 1), sigma^2 = p / (1 - p), formed in place."""
    if kind == "gaussian":
        sigma = (p / (1.0 - p)) ** 0.5
        return torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype).mul_(sigma).add_(1.0)
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return torch.ge(u, p, out=u)


def apply_noise(x, noise, p: float, kind: str, inverted: bool = True):
    """y = x * r (Gaussian), x * m / (1 - p) (inverted Bernoulli) or x * m (the papers' Bernoulli);
    the division in place on the new product (the same numbers as ``x * m / (1 - p)``)."""
    y = x * noise
    return y.div_(1.0 - p) if kind != "gaussian" and inverted else y


def noise_backward(g, noise, p: float, kind: str, inverted: bool = True):
    """dL/dx from dL/dy through :func:`apply_noise`: g * r, (g / (1 - p)) * m or g * m (the order of
    autograd's own backward of those products, so the numbers match it bit for bit)."""
    if kind == "gaussian" or not inverted:
        return g * noise
    return (g / (1.0 - p)).mul_(noise)


# dL/dz from dL/da and the unit's output a = f(z) (the kernels autograd itself calls): logistic
# g a (1 - a), tanh g (1 - a^2), ReLU g where a > 0, linear g
ACTIVATION_BACKWARD = {
    "logistic": torch.ops.aten.sigmoid_backward,
    "tanh": torch.ops.aten.tanh_backward,
    "relu": lambda g, a: torch.ops.aten.threshold_backward(g, a, 0),
    "linear": lambda g, a: g,
}


@torch.no_grad()
def init_(model: "MLP", scheme: str, generator: torch.Generator):
    """Initial weights (biases 0) by ``scheme``:
    ``he`` N(0, 2 / fan_in) (He et al. 2015, for ReLU); ``fan-in`` N(0, 1 / fan_in) (the scale of
    the dropout author's public example config); ``small-gaussian`` N(0, 0.01^2) (Hinton's Guide,
    the era's habit); ``standard-uniform`` U[-1/sqrt(fan_in), 1/sqrt(fan_in)] (Glorot & Bengio
    2010, eq. 1: the "standard" init they start from, Var = 1 / (3 fan_in)); ``glorot``
    U[-r, r], r = sqrt(6 / (fan_in + fan_out)) (their eq. 16, "normalized": Var = 2 / (fan_in +
    fan_out)); ``auto``: he for ReLU units, fan-in otherwise."""
    if scheme == "auto":
        scheme = "he" if model.activation == "relu" else "fan-in"
    for lin in model.layers:
        fan_out, fan_in = lin.weight.shape
        if scheme == "he":
            lin.weight.normal_(0.0, math.sqrt(2.0 / fan_in), generator=generator)
        elif scheme == "fan-in":
            lin.weight.normal_(0.0, math.sqrt(1.0 / fan_in), generator=generator)
        elif scheme == "small-gaussian":
            lin.weight.normal_(0.0, 0.01, generator=generator)
        elif scheme == "standard-uniform":
            r = 1.0 / math.sqrt(fan_in)
            lin.weight.uniform_(-r, r, generator=generator)
        elif scheme == "glorot":
            r = math.sqrt(6.0 / (fan_in + fan_out))
            lin.weight.uniform_(-r, r, generator=generator)
        else:
            raise ValueError(f"init scheme must be one of {INIT_SCHEMES}")
        lin.bias.zero_()
    return model


def max_norm_(weight: torch.Tensor, c: float):
    """Project every unit's incoming weight vector (a row of ``weight``) onto the ball ||w||_2 <= c
    (Srivastava et al. 2014, sec. 5.1)."""
    with torch.no_grad():
        weight.renorm_(2, 0, c)


class MLP(nn.Module):
    """``784 -> hidden... -> 10`` with one activation for hidden layers and logits out.

    ``input_dropout`` and ``hidden_dropout`` are *drop* probabilities of the inputs and of each
    hidden layer's outputs; ``dropout_type`` picks Bernoulli or Gaussian noise, ``dropout_scaling``
    the formulation of Bernoulli dropout (module docstring).
    """

    def __init__(
        self,
        sizes,
        activation="relu",
        input_dropout=0.0,
        hidden_dropout=0.0,
        dropout_type="bernoulli",
        dropout_scaling="inverted",
    ):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}")
        if dropout_type not in DROPOUT_TYPES:
            raise ValueError(f"dropout_type must be one of {DROPOUT_TYPES}")
        if dropout_scaling not in DROPOUT_SCALINGS:
            raise ValueError(f"dropout_scaling must be one of {DROPOUT_SCALINGS}")
        for p in (input_dropout, hidden_dropout):
            if not 0.0 <= p < 1.0:
                raise ValueError("dropout probabilities must lie in [0, 1)")
        self.sizes = list(sizes)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(self.sizes[:-1], self.sizes[1:]))
        self.activation = activation
        self.input_dropout, self.hidden_dropout, self.dropout_type = input_dropout, hidden_dropout, dropout_type
        self.dropout_scaling = dropout_scaling

    def _drop(self, x, p, generator, stochastic: bool):
        """A layer's output after dropout: sampled noise (training, MC inference), or the
        deterministic net's expectation (paper formulation: the unit times q = 1 - p, which is
        its outgoing weights times q)."""
        if p <= 0:
            return x
        if not stochastic:
            return x * (1.0 - p) if self._paper else x
        return self._sample_drop(x, p, generator)[0]

    def _sample_drop(self, x, p, generator):
        """Dropout with noise drawn from ``generator``: ``(y, noise)``, the noise kept for the backward pass."""
        r = dropout_noise(x, p, generator, self.dropout_type)
        return apply_noise(x, r, p, self.dropout_type, not self._paper), r

    @property
    def _paper(self) -> bool:
        return self.dropout_scaling == "paper" and self.dropout_type == "bernoulli"

    def forward(self, x, generator: torch.Generator | None = None, stochastic: bool = False):
        """Logits. ``stochastic=True`` samples dropout noise from ``generator`` (training and
        Monte-Carlo inference); otherwise the deterministic weight-scaled net."""
        act = ACTIVATIONS[self.activation]
        x = self._drop(x, self.input_dropout, generator, stochastic)
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = self._drop(act(x), self.hidden_dropout, generator, stochastic)
        return x

    @torch.no_grad()
    def hidden_activations(self, x) -> list:
        """Each hidden layer's outputs of the deterministic (weight-scaled) net, before dropout's
        test-time scaling: what the units themselves emit."""
        act, out = ACTIVATIONS[self.activation], []
        x = self._drop(x, self.input_dropout, None, False)
        for layer in self.layers[:-1]:
            a = act(layer(x))
            out.append(a)
            x = self._drop(a, self.hidden_dropout, None, False)
        return out

    @torch.no_grad()
    def forward_tape(self, x, generator, dtype: torch.dtype | None = None):
        """The training forward pass (dropout noise sampled from ``generator``, exactly as
        ``forward(x, generator, stochastic=True)`` draws it), keeping what the backward pass needs.
        ``dtype``: the precision of the products and the hidden units (bfloat16: the weights, biases
        and each layer's input cast to it, as ``torch.autocast`` does; None: the weights' own). Returns
        ``(logits, tape)``; :meth:`backward_tape` turns dL/dlogits into the layers' gradients."""
        noise, inputs, outs, weights = [], [], [], []
        act = ACTIVATIONS[self.activation]
        for i, layer in enumerate(self.layers):
            p = self.input_dropout if i == 0 else self.hidden_dropout
            r = None
            if p > 0:
                x, r = self._sample_drop(x, p, generator)
            w, b = layer.weight, layer.bias
            if dtype is not None and dtype != w.dtype:
                w, b, x = w.to(dtype), b.to(dtype), x.to(dtype)
            noise.append(r)
            inputs.append(x)
            weights.append(w)
            x = torch.addmm(b, x, w.t())  # what nn.Linear computes
            if i < len(self.layers) - 1:
                x = act(x)
                outs.append(x)
        return x, (noise, inputs, outs, weights)

    @torch.no_grad()
    def backward_tape(self, tape, d, first: int = 0) -> list:
        """Backpropagation (Rumelhart, Hinton & Williams 1986) through a :meth:`forward_tape` pass: from
        ``d`` = dL/dlogits, for each layer l from the last down to ``first`` (the layers below it are not
        trained: no gradient for them), dL/dW_l = d_l^T x_l and dL/db_l = sum over the batch of d_l, where
        d_{l-1} = f'(z_{l-1}) * noise_l(d_l W_l). The products are the ones autograd dispatches for
        ``nn.Linear`` (``d^T x`` for the weights, ``d W`` for the input), so the gradients equal autograd's
        bit for bit. Returns ``[(dW, db) or None per layer]`` in the weights' dtype."""
        noise, inputs, outs, weights = tape
        back, kind, inverted = ACTIVATION_BACKWARD[self.activation], self.dropout_type, not self._paper
        grads = [None] * len(self.layers)
        d = d.to(inputs[-1].dtype)
        for i in range(len(self.layers) - 1, first - 1, -1):
            own = self.layers[i].weight.dtype
            grads[i] = (torch.mm(d.t(), inputs[i]).to(own), d.sum(0).to(own))
            if i > first:
                d = torch.mm(d, weights[i])
                if noise[i] is not None:
                    d = noise_backward(d, noise[i], self.hidden_dropout, kind, inverted)
                d = back(d, outs[i - 1])
        return grads

    def weights(self):
        return [l.weight for l in self.layers]

    def biases(self):
        return [l.bias for l in self.layers]

    # -- the public methods of the library API: numpy (or tensors) in, the same kind out

    @torch.no_grad()
    def predict_proba(self, x, batch: int = 10_000):
        """Class probabilities softmax(logits) of the deterministic (weight-scaled) net, [n, n_classes]."""
        was = self.training
        self.eval()
        w = self.layers[0].weight
        t = R._tensor(x, w, self.sizes[0])
        out = (
            torch.cat([torch.softmax(self(t[i : i + batch]), 1) for i in range(0, len(t), batch)])
            if len(t)
            else t.new_zeros(0, self.sizes[-1])
        )
        self.train(was)
        return out if isinstance(x, torch.Tensor) else out.cpu().numpy()

    def predict(self, x):
        """The most probable class (0 .. n_classes - 1) of each row."""
        p = self.predict_proba(x)
        return p.argmax(1)

    def checkpoint(self) -> dict:
        """The public format ``revival.mlp.v1``: sizes, activation, the dropout it was trained with
        (the deterministic net scales by it in the papers' formulation) and the state dict."""
        return {
            "format": FORMAT,
            "sizes": self.sizes,
            "activation": self.activation,
            "dropout": {
                "input": self.input_dropout,
                "hidden": self.hidden_dropout,
                "type": self.dropout_type,
                "scaling": self.dropout_scaling,
            },
            "state_dict": {k: v.detach().cpu().clone() for k, v in self.state_dict().items()},
        }


FORMAT = "revival.mlp.v1"


def seeded_mlp(sizes, activation, seed: int, scheme: str = "auto") -> MLP:
    """A net whose initial weights are drawn on the CPU from ``seed`` (identical for every variant
    and device) by ``scheme`` (:func:`init_`; ``auto``: N(0, 2/fan_in) for ReLU, N(0, 1/fan_in)
    otherwise); biases 0. compare-dropout's points and :func:`revival.fit_net` both start here."""
    return init_(MLP(sizes, activation), scheme, torch.Generator().manual_seed(seed))


def from_checkpoint(ck, where: str = "checkpoint") -> MLP:
    """An :class:`MLP` from a ``revival.mlp.v1`` dict; ValueError naming ``where`` when it is not one."""
    if not isinstance(ck, dict) or ck.get("format") != FORMAT or not isinstance(ck.get("state_dict"), dict):
        raise ValueError(f"{where}: not a revival net checkpoint (expected a dict with format {FORMAT!r})")
    drop = ck.get("dropout") or {}
    if not isinstance(drop, dict):
        raise ValueError(f"{where}: 'dropout' must be a dict (input, hidden, type, scaling), got {type(drop).__name__}")
    sizes = R.declared_sizes(ck.get("sizes"), where)
    shapes = {}
    for k, (a, b) in enumerate(zip(sizes, sizes[1:])):
        shapes[f"layers.{k}.weight"], shapes[f"layers.{k}.bias"] = (b, a), (b,)
    sd = R.checked_state(ck["state_dict"], shapes, where)  # before any allocation
    try:
        model = MLP(
            sizes,
            ck.get("activation", "relu"),
            drop.get("input", 0.0),
            drop.get("hidden", 0.0),
            drop.get("type", "bernoulli"),
            drop.get("scaling", "inverted"),
        )
        model.load_state_dict(sd)
    except (KeyError, TypeError, RuntimeError, ValueError) as e:
        raise ValueError(f"{where}: a {FORMAT} checkpoint that does not fit its sizes ({type(e).__name__})") from None
    return model


# how close to a bound counts as saturated: 1% of the unit's output range (Glorot & Bengio 2010 watch
# logistic units pinned at 0 and tanh units at +-1)
SATURATION_MARGIN = 0.01


@torch.no_grad()
def saturation(a: torch.Tensor, activation: str) -> torch.Tensor:
    """The saturated share of a hidden layer's outputs ``a`` (examples x units), a device scalar:
    logistic, the fraction of outputs within 1% of the range of 0 or 1 (a < 0.01 or a > 0.99); tanh,
    within 1% of the range of -1 or 1 (|a| > 0.98); ReLU, the fraction of *dead* units, zero on
    every example given (no gradient reaches their incoming weights); linear units never saturate."""
    if activation == "logistic":
        return ((a < SATURATION_MARGIN) | (a > 1 - SATURATION_MARGIN)).float().mean()
    if activation == "tanh":
        return (a.abs() > 1 - 2 * SATURATION_MARGIN).float().mean()
    if activation == "relu":
        return (a <= 0).all(0).float().mean()
    return torch.zeros((), device=a.device)


def loss_fn(logits, y, kind: str = "cross-entropy", reduction: str = "mean"):
    """Cross-entropy of the softmax, or squared error between the softmax and the one-hot target."""
    if kind == "cross-entropy":
        return F.cross_entropy(logits, y, reduction=reduction)
    err = ((torch.softmax(logits, 1) - F.one_hot(y, logits.shape[1]).to(logits.dtype)) ** 2).sum(1)
    return err.mean() if reduction == "mean" else err.sum()


@torch.no_grad()
def mc_predict(model: MLP, x, k: int, generator, check=None) -> torch.Tensor:
    """Monte-Carlo model averaging: the mean softmax over ``k`` dropout masks (``check()`` before each)."""
    probs = torch.zeros(x.shape[0], model.sizes[-1], device=x.device)
    for _ in range(k):
        if check is not None:
            check()
        probs += torch.softmax(model(x, generator, stochastic=True), 1)
    return probs / k

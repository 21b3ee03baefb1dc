"""A deep Boltzmann machine as the start of a classifier (Salakhutdinov & Hinton 2009, section 4; the
``dbm-pretrained`` variants of compare-dropout; Srivastava et al. 2014, Table 2, with dropout).

The DBM is unrolled into a feed-forward net whose input is augmented: each image v is fed together
with q(h2 | v), the mean-field posterior of the DBM's top layer for that image, computed once and
kept fixed. The first hidden layer hears [v, q(h2)] through [W1, W2^T], as h1 hears v and h2 in the
DBM; the second hears h1 through W2; a new softmax layer sits on top. Without the augmentation the
first layer would lose the top-down input the DBM gave it.
"""

from __future__ import annotations

from pathlib import Path

import torch

from revival import runs
from revival.models import dbm as M
from revival.training.dbm_train import DBMFit, RunSink


def _two_layers(model: M.DBM):
    if model.depth != 2:
        raise ValueError(
            f"a {'-'.join(map(str, model.layers))} DBM: the unrolling with the augmented input is the paper's "
            "for two hidden layers; a deeper DBM's middle layers would lose their top-down input"
        )


@torch.no_grad()
def augment(model: M.DBM, x: torch.Tensor, mf_steps: int = 50, batch: int = 10_000) -> torch.Tensor:
    """[v, q(h2 | v)] for each row of ``x`` (values in [0, 1]): the image and the mean-field means of
    the top layer (:func:`revival.models.dbm.mean_field`) after ``mf_steps`` rounds, 50 as the authors'
    mf_class.m (l.30) runs them for the fine-tuning input (goodfeli/galatea dbm/code_DBM),
    [n, n_visible + n_hidden2]."""
    _two_layers(model)
    p = model.params()
    parts = [torch.cat([xb, M.mean_field(xb, *p, steps=mf_steps)[1]], 1) for xb in x.split(batch)]
    return torch.cat(parts)


@torch.no_grad()
def init_net_(net, model: M.DBM, input_scale: float = 1.0, hidden_scale: float = 1.0):
    """Copy the DBM into the first two hidden layers of ``net`` (an :class:`~revival.models.mlp.MLP` of sizes
    [n_visible + n2, n1, n2, ...]): layer 1 weights [W1, W2^T] and bias c1, layer 2 weights W2 and
    bias c2. ``input_scale`` / ``hidden_scale`` multiply the copied weights (1/q for the papers'
    dropout, as :func:`revival.models.dbn.dropout_scales`). ValueError when the shapes differ."""
    _two_layers(model)
    (w1, w2), (_, c1, c2) = model.params()
    first = torch.cat([w1, w2.t()], 1)
    for lin, w, c, s in ((net.layers[0], first, c1, input_scale), (net.layers[1], w2, c2, hidden_scale)):
        if tuple(lin.weight.shape) != tuple(w.shape):
            raise ValueError(
                f"the DBM gives a {w.shape[1]}->{w.shape[0]} layer but the net's is "
                f"{lin.weight.shape[1]}->{lin.weight.shape[0]} (--layers must be the DBM's two layers)"
            )
        lin.weight.copy_(w.to(lin.weight) * s)
        lin.bias.copy_(c.to(lin.bias))


def train_dbm(folder: Path, x: torch.Tensor, cfg, device, echo=print, y=None) -> M.DBM:
    """The DBM of a compare-dropout point: trained on the rows of ``x`` (binary; ``y`` their one-hot
    labels, for a DBM with label units) by
    :class:`revival.training.dbm_train.DBMFit` into ``folder`` (TensorBoard, state.pt after every epoch, so an
    interrupted experiment resumes it; ``model.pt`` and ``result.json`` when done), or read back from
    there when it finished before."""

    folder = Path(folder)
    if (folder / runs.RESULT_FILE).is_file():
        ck, _ = runs.load_checkpoint(folder / runs.MODEL_FILE)
        return M.from_checkpoint(ck, str(folder)).to(device)
    folder.mkdir(parents=True, exist_ok=True)
    fit = DBMFit(x, None, cfg, device, y)
    st = runs.load_state(folder, device)
    if st is not None:
        fit.load(st)
        echo(f"[{folder.name}] resuming after epoch {st['epoch']}")
    with runs.writer(folder) as w:
        model, rows = fit.run(RunSink(folder, cfg.to_dict(), echo, w))
    runs.save_torch(
        folder / runs.MODEL_FILE, model.checkpoint(cfg.to_dict(), {"binarize": cfg.binarize, "seed": cfg.seed})
    )
    runs.write_json(folder / runs.RESULT_FILE, {"final": rows[-1] if rows else {}, "config": cfg.to_dict()})
    (folder / runs.STATE_FILE).unlink(missing_ok=True)  # finished: no resume state
    return model

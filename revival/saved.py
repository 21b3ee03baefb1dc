"""Models to and from files in their public checkpoint formats: :func:`save` and :func:`load`."""

from __future__ import annotations

from pathlib import Path

from revival import runs
from revival.models import dbn as DBN
from revival.models import rbm as R
from revival.models.dbm import from_checkpoint as dbm_from_checkpoint
from revival.models.mlp import from_checkpoint as _mlp_from_checkpoint


def save(model, path) -> Path:
    """Write ``model`` (an RBM, DBN, DBM or MLP) to ``path`` in its public checkpoint format
    (``model.checkpoint()``), atomically; :func:`load` reads it back."""
    path = Path(path)
    runs.save_torch(path, model.checkpoint())
    return path


def load(path):
    """A model from a checkpoint file or run folder, by its format: ``revival.rbm.v1`` -> RBM,
    ``revival.dbn.v1`` -> DBN, ``revival.mlp.v1`` -> MLP (``torch.load(weights_only=True)``)."""
    ck, p = runs.load_checkpoint(path)
    fmt = ck.get("format") if isinstance(ck, dict) else None
    if fmt == R.FORMAT:
        model = R.from_checkpoint(ck, str(p))
        model.preprocessing = ck.get("preprocessing") or {}
        return model
    if fmt == DBN.FORMAT:
        return DBN.DBN(
            DBN.from_checkpoint(ck, str(p)),
            [lc.get("config", {}) for lc in ck["layers"]],
            ck.get("preprocessing") or {},
        )
    if fmt == "revival.mlp.v1":
        return _mlp_from_checkpoint(ck, str(p)).eval()
    if fmt == "revival.dbm.v1":
        return dbm_from_checkpoint(ck, str(p))
    raise ValueError(
        f"{p}: unknown checkpoint format {fmt!r} (expected revival.rbm.v1, revival.dbn.v1, revival.mlp.v1 or revival.dbm.v1)"
    )

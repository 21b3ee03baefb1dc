"""TensorBoard in a run folder: the writer (closed by its context manager), tag descriptions, hparams,
final scalars and one-channel image grids."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
from tensorboard.plugins.hparams import plugin_data_pb2
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams as hp_summary
import io
import re


def log_final_scalars(path: Path, step: int, scalars: dict, hparams: dict | None = None) -> None:
    """The end of a run in TensorBoard: ``scalars`` (tag -> number; None and non-numbers skipped) at
    ``step``, so the final log-probability sits beside the per-epoch curves; with ``hparams`` also the
    HParams dashboard's row of this run (its settings beside those numbers, as compare-dropout's)."""
    numbers = {k: float(v) for k, v in scalars.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    if numbers or hparams:
        with writer(path) as w:
            for tag, v in numbers.items():
                w.add_scalar(tag, v, step)
            if hparams and numbers:
                log_hparams(
                    w, hparams, {f"hparam/{k.split('/', 1)[-1].replace('/', '_')}": v for k, v in numbers.items()}
                )


# what each TensorBoard tag means, shown when the pointer rests on a chart (the first regex that matches)
TAG_DESCRIPTIONS = (
    (
        r"^error/(train|valid|test)$",
        "error fraction (0.05 = 5%) of the net without dropout noise on this split; "
        "choose settings on valid, read test only for the chosen one",
    ),
    (r"^loss/", "mean cross-entropy of the net without dropout noise on this split; rising test loss = overfitting"),
    (r"^train/batch_loss$", "mean minibatch loss during the epoch, with the variant's dropout noise"),
    (r"^train/(lr|momentum)$", "the schedule's value at this epoch"),
    (
        r"^activation/layer_\d+/saturated$",
        "share of the layer's outputs within 1% of a bound (logistic 0 or 1, tanh "
        "+-1), or of dead ReLUs, on 1,000 validation images",
    ),
    (r"^activation/layer_\d+/mean$", "mean output of the hidden layer on 1,000 validation images"),
    (r"^grad_norm/", "mean norm of the layer's weight gradient over the epoch's batches (Glorot & Bengio's view)"),
    (r"^rbm/recon_error$", "mean squared error of a one-step reconstruction per image: falls fast, a poor guide alone"),
    (
        r"^rbm/free_energy/gap$",
        "mean free energy of validation minus training images: rising from its first value = "
        "overfitting (Hinton's Practical Guide, section 6); the first value is the baseline, not 0",
    ),
    (
        r"^rbm/free_energy/",
        "mean free energy F(v) of a fixed subset (compare train with valid; the level moves with log Z)",
    ),
    (r"^rbm/log_prob/", "average test log-probability in nats, log Z by AIS (optimistic when its ESS is small)"),
    (r"^rbm/pseudo_log_likelihood$", "pseudo-log-likelihood of validation images (Besag), a cheap likelihood proxy"),
    (r"^rbm/update_ratio$", "|dW| / |W| of the last update: the Practical Guide's rule of thumb is about 1e-3"),
    (r"^dbm/bound_gap$", "mean-field bound of training minus validation images: growing = overfitting"),
    (
        r"^dbm/bound_",
        "mean variational bound without log Z (its level moves with log Z: compare train with valid only)",
    ),
    (r"^dbm/varying_", "share of the layer's units whose posterior varies across images (near 0 = collapsed)"),
    (r"^dbm/log_prob/", "test log-probability bound in nats (mean-field bound per image, AIS log Z)"),
)


def tag_description(tag: str) -> str | None:

    return next((text for pattern, text in TAG_DESCRIPTIONS if re.search(pattern, tag)), None)


def writer(path: Path, purge_step: int | None = None):
    """A TensorBoard ``SummaryWriter`` on ``path``; use it as a context manager so it is closed.
    ``purge_step`` (on resume) drops events at or after that step left by an interrupted run.

    TensorBoard reads a folder's event files in name order, and a name starts with the second it
    was created in, then the process id: a resume within the same second as the run it continues
    could sort first and replay the steps out of order. So a resumed writer waits for the next
    second when an existing event file was made in this one."""


    if purge_step is not None:
        stamps = [
            int(m.group(1))
            for f in Path(path).glob("events.out.tfevents.*")
            if (m := re.match(r"events\.out\.tfevents\.(\d+)\.", f.name))
        ]
        if stamps and max(stamps) >= int(time.time()):
            time.sleep(max(stamps) + 1 - time.time() + 0.01)

    class DescribedWriter(SummaryWriter):
        """The first value of each tag carries its description (:data:`TAG_DESCRIPTIONS`), which
        TensorBoard shows on the chart; every other call is SummaryWriter's own."""

        described: set = set()

        def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, **kw):
            text = None if tag in self.described else tag_description(tag)
            self.described = self.described | {tag}
            if text is None:
                return super().add_scalar(tag, scalar_value, global_step, walltime, **kw)

            meta = SummaryMetadata(
                summary_description=text, plugin_data=SummaryMetadata.PluginData(plugin_name="scalars")
            )
            value = Summary.Value(tag=tag, simple_value=float(scalar_value), metadata=meta)
            self._get_file_writer().add_summary(Summary(value=[value]), global_step, walltime)

    return DescribedWriter(log_dir=str(path), purge_step=purge_step)


def log_hparams(w, hparams: dict, metrics: dict, discrete: dict | None = None, differs: set | None = None):
    """Write hparams into *this* run's event file (not a nested sub-run as ``add_hparams`` does),
    so every variant's folder carries the same keys beside its curves. Booleans are written as the
    strings "true"/"false" (TensorBoard would show them as 0.0/1.0); ``discrete`` lists the values a
    text hparam takes across the experiment (so the HParams filter offers them); ``differs`` names
    the hparams that vary across the experiment: TensorBoard lists those first (it sorts by
    "differs", then by name, and shows the first few), so the variant column is in view."""

    clean = {
        k: (str(v).lower() if isinstance(v, bool) else v if isinstance(v, (int, float, str)) else str(v))
        for k, v in hparams.items()
    }
    exp, ssi, sei = hp_summary(clean, metrics, hparam_domain_discrete=discrete)
    if differs:
        meta = exp.value[0].metadata.plugin_data
        data = plugin_data_pb2.HParamsPluginData.FromString(meta.content)
        for info in data.experiment.hparam_infos:
            info.differs = info.name in differs
        meta.content = data.SerializeToString()
    fw = w._get_file_writer()
    for s in (exp, ssi, sei):
        fw.add_summary(s)
    for k, v in metrics.items():
        w.add_scalar(k, v)


def image_grid(images: torch.Tensor, nrow: int, scale_each: bool = False) -> torch.Tensor:
    """[N, 784] values -> one [1, H, W] grid of 28x28 tiles (``nrow`` rows) with 1-pixel grey borders,
    values in [0, 1]. ``scale_each`` min-max scales every tile on its own (used for filters)."""
    x = images.detach().float().cpu().reshape(-1, 28, 28)
    if scale_each:
        lo = x.amin(dim=(1, 2), keepdim=True)
        hi = x.amax(dim=(1, 2), keepdim=True)
        x = (x - lo) / (hi - lo).clamp_min(1e-12)
    else:
        x = x.clamp(0, 1)
    n = x.shape[0]
    ncol = -(-n // nrow)
    tiles = torch.full((nrow * ncol, 29, 29), 0.5)
    tiles[:n, :28, :28] = x
    grid = tiles.reshape(nrow, ncol, 29, 29).permute(0, 2, 1, 3).reshape(nrow * 29, ncol * 29)
    return torch.nn.functional.pad(grid, (1, 0, 1, 0), value=0.5)[:-1, :-1].unsqueeze(0)


def add_gray_image(w, tag: str, grid: torch.Tensor, step: int):
    """Log a [1, H, W] grid in [0, 1] as a one-channel PNG (TensorBoard's ``add_image`` would expand
    it to RGB and compress harder: three times the encoding time for the same picture)."""


    arr = (grid[0].clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr, mode="L").save(buf, format="PNG", compress_level=1)
    img = Summary.Image(height=arr.shape[0], width=arr.shape[1], colorspace=1, encoded_image_string=buf.getvalue())
    w._get_file_writer().add_summary(Summary(value=[Summary.Value(tag=tag, image=img)]), step)

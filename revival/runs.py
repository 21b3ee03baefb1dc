"""Run folders: ``<logdir>/<command>/<YYYYmmdd-HHMMSS>[-<name>]/`` with config, TensorBoard events,
atomic checkpoints and the summary. Callers decide what is logged; this module only writes it."""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from .errors import Diverged, Interrupted, OptionError  # noqa: F401 (the run outcomes, re-exported)

STATUS_RUNNING, STATUS_FINISHED = "running", "finished"
STATUS_DIVERGED, STATUS_INTERRUPTED, STATUS_FAILED = "diverged", "interrupted", "failed"
STATUS_KILLED = "killed"  # left "running" by a process that died without recording how it ended
MODEL_FILE, STATE_FILE, RESULT_FILE = "model.pt", "state.pt", "result.json"
# commands (and library fits) whose finished runs a resume with more epochs extends
EXTENDABLE = ("pretrain-rbm", "pretrain-dbn", "pretrain-dbm", "fit-net")
# runs whose one state.pt sits beside their model.pt (a stack's and a comparison's sit in sub-folders)
STATE_AT_TOP = ("pretrain-rbm", "pretrain-dbm", "fit-net")
# what an ended run's summary says about how it ended; gone once it is resumed
STALE_FIELDS = (
    "hint",
    "signal",
    "exit_code",
    "error",
    "reason",
    "epoch",
    "points_finished",
    "points_failed",
    "points_remaining",
    "failed",
)


def name_problem(value) -> str | None:
    """Why ``value`` cannot be a run's name (part of a folder name, a console line and config.json),
    or None: 1-100 printable characters, no path separators, valid UTF-8. One rule for ``--name`` and
    ``RunLogger(name=)``."""
    if not isinstance(value, str):
        return f"must be text, got {type(value).__name__}"
    if any("\udc80" <= c <= "\udcff" for c in value):  # bytes the terminal's encoding could not decode
        return "is not valid UTF-8 text; use letters, digits, '-', '_' or '.'"
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "holds a control character (a newline or tab); use letters, digits, '-', '_' or '.'"
    if not value or len(value) > 100 or any(c in value for c in "/\\\0") or value in (".", ".."):
        return "must be 1-100 characters without '/' or '\\' (it becomes part of a folder name)"
    return None


def new_run_dir(logdir, command: str, name: str | None = None, now: float | None = None) -> Path:
    """Create a fresh run folder; never reuses one (a same-second clash gets a ``-2``, ``-3`` suffix).
    ``os.mkdir`` is atomic, so two processes starting together still get distinct folders."""
    parent = Path(logdir) / command
    parent.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    base = stamp + (f"-{name}" if name else "")
    for i in range(1, 10_000):
        path = parent / (base if i == 1 else f"{base}-{i}")
        try:
            os.mkdir(path)
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a new run folder under {parent}")


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict:
    from . import __version__

    return {
        "revival": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": git_commit(),
        "command_line": sys.argv,
    }


def jsonable(x):
    """``x`` with tensors, paths and numpy scalars made plain, and NaN/inf as strings (JSON has none)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, Path):
        return str(x)
    if isinstance(x, torch.Tensor):
        return jsonable(x.tolist())
    if isinstance(x, (np.generic,)):
        return x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)  # JSON has no NaN/inf
    return x


_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_bytes(path: Path, data: bytes):
    """Write to a temporary file in the same folder, fsync, then rename over ``path``: a kill at any
    moment leaves either the old file or the new one, never a torn one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if e.filename is None or str(e.filename) == tmp:  # name the file the user knows, not the temporary one
            raise OSError(e.errno, e.strerror or str(e), str(path)) from None
        raise
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: Path, obj):
    atomic_write_bytes(path, (json.dumps(jsonable(obj), indent=2) + "\n").encode())


def read_json(path: Path):
    with open(path) as f:
        return json.load(f)


PREDICTIONS_FILE = "test_predictions.npz"


def save_predictions(folder: Path, pred, label) -> Path:
    """A point's predicted class and the true class of every test image, int8, compressed (about 5 KB
    for MNIST's 10,000): what McNemar's test and the standard error of a difference between two
    models need (:mod:`revival.significance`)."""
    import io

    buf = io.BytesIO()
    np.savez_compressed(buf, pred=np.asarray(pred, dtype=np.int8), label=np.asarray(label, dtype=np.int8))
    path = Path(folder) / PREDICTIONS_FILE
    atomic_write_bytes(path, buf.getvalue())
    return path


def load_predictions(folder: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """``(pred, label)`` of a point folder, or None where it saved none (a run before they were saved)."""
    path = Path(folder) / PREDICTIONS_FILE
    if not path.is_file():
        return None
    try:
        with np.load(path) as z:
            return z["pred"], z["label"]
    except (OSError, ValueError, KeyError) as e:
        raise ValueError(f"{path}: cannot be read ({type(e).__name__}); it is a revival predictions file") from None


def save_torch(path: Path, obj):
    """``torch.save`` made atomic (see :func:`atomic_write_bytes`)."""
    import io

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def markdown_table(d: dict) -> str:
    """A two-column markdown table of a (flat or nested) dict, for TensorBoard text and summary.md:
    nested keys flattened as ``a.b``, floats to 6 significant digits, lists comma-separated."""

    def cell(v):
        v = jsonable(v)
        if isinstance(v, float):
            return f"{v:.6g}"
        if isinstance(v, list):
            return ", ".join(cell(x) for x in v) if len(v) <= 20 else f"[{len(v)} values]"
        return str(v)

    def rows(prefix, obj):
        for k, v in obj.items():
            if isinstance(v, dict) and v:
                yield from rows(f"{prefix}{k}.", v)
            else:
                yield f"| {prefix}{k} | {cell(v)} |"

    return "\n".join(["| key | value |", "| --- | --- |", *rows("", d)])


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
    import re

    return next((text for pattern, text in TAG_DESCRIPTIONS if re.search(pattern, tag)), None)


def writer(path: Path, purge_step: int | None = None):
    """A TensorBoard ``SummaryWriter`` on ``path``; use it as a context manager so it is closed.
    ``purge_step`` (on resume) drops events at or after that step left by an interrupted run.

    TensorBoard reads a folder's event files in name order, and a name starts with the second it
    was created in, then the process id: a resume within the same second as the run it continues
    could sort first and replay the steps out of order. So a resumed writer waits for the next
    second when an existing event file was made in this one."""
    import re

    from torch.utils.tensorboard import SummaryWriter

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
            from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata

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
    from tensorboard.plugins.hparams import plugin_data_pb2
    from torch.utils.tensorboard.summary import hparams as hp_summary

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
    import io

    from PIL import Image
    from tensorboard.compat.proto.summary_pb2 import Summary

    arr = (grid[0].clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr, mode="L").save(buf, format="PNG", compress_level=1)
    img = Summary.Image(height=arr.shape[0], width=arr.shape[1], colorspace=1, encoded_image_string=buf.getvalue())
    w._get_file_writer().add_summary(Summary(value=[Summary.Value(tag=tag, image=img)]), step)


LOCK_FILE = ".lock"


class RunLock:
    """An advisory lock on a run folder (``.lock`` holding the owner's PID), held while a process
    trains in it: a second process refuses to resume the same folder, and a folder whose status
    says ``running`` but whose lock is free belonged to a process that died (SIGKILL, power loss).
    The operating system drops the lock when the process ends, however it ends."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / LOCK_FILE
        self.fd = None

    def acquire(self) -> bool:
        """True when this process now holds the lock, False when another does; ValueError when
        the folder cannot be written at all."""
        import fcntl

        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise ValueError(f"{self.path.parent}: cannot write in this run folder ({one_line(e)})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self.fd = fd
        return True

    def owner(self) -> str:
        try:
            return self.path.read_text().strip() or "?"
        except OSError:
            return "?"

    def release(self, remove: bool = False):
        """Drop the lock; ``remove``: delete ``.lock`` first, while still holding it (a finished run)."""
        if self.fd is not None:
            if remove:
                self.path.unlink(missing_ok=True)
            os.close(self.fd)  # closing drops the flock
            self.fd = None


class Run:
    """One run folder: ``config.json`` at start, atomic checkpoints, ``summary.json``/``summary.md``,
    and the lock that says a process is working in it."""

    def __init__(self, path: Path, config: dict, resumed: bool = False):
        self.path = Path(path)
        self.config = config
        self.lock = RunLock(self.path)
        if not resumed:
            self.lock.acquire()
            write_json(self.path / "config.json", {**config, "environment": environment()})
            self.set_status(STATUS_RUNNING)

    @classmethod
    def create(cls, logdir, command: str, name: str | None, config: dict) -> "Run":
        """A new run folder; OptionError naming ``--logdir`` when it cannot be made or written."""
        try:
            return cls(new_run_dir(logdir, command, name), {"command": command, **config})
        except OSError as e:
            raise OptionError(
                "--logdir", f"{logdir}: cannot create a run folder there ({one_line(e)}); choose a folder you can write"
            ) from None

    @classmethod
    def reopen(cls, path, command: str, epochs: int | None = None) -> "Run":
        """Open an existing run folder of ``command`` for ``--resume`` and take its lock. ValueError
        when it is not one, is finished (unless ``epochs`` asks for more epochs than it trained: the
        run is extended; fewer would rewrite its record), or another process holds it. A folder left
        ``running`` by a dead process is marked ``killed`` first."""
        path = Path(path)
        cfg_path = path / "config.json"
        if not cfg_path.is_file():
            raise ValueError(f"{path}: not a revival run folder (no config.json)")
        try:
            cfg = read_json(cfg_path)
        except (OSError, ValueError) as e:
            raise ValueError(
                f"{cfg_path}: cannot be read as JSON ({type(e).__name__}); this folder cannot be resumed"
            ) from None
        if not isinstance(cfg, dict) or not isinstance(cfg.get("options"), dict):
            raise ValueError(f"{cfg_path}: not a revival config (expected an object with 'command' and 'options')")
        if cfg.get("command") != command:
            raise ValueError(f"{path}: a run of {cfg.get('command')!r}, not of {command!r}")
        summary = {}
        if (path / "summary.json").is_file():
            try:
                summary = read_json(path / "summary.json")
            except (OSError, ValueError):
                summary = {}
            summary = summary if isinstance(summary, dict) else {}
        if summary.get("status") == STATUS_FINISHED:
            done = cfg["options"].get("epochs")
            count = isinstance(done, int) and not isinstance(done, bool)  # a stack's per-layer list: its own rule
            fewer = count and isinstance(epochs, int) and epochs <= done
            if command not in EXTENDABLE or epochs is None or fewer:
                more = f"more than {done}" if count else "more"
                hint = f"; asking for {more} epochs (--epochs N) extends it" if command in EXTENDABLE else ""
                trained = f" after {done} epochs" if count else ""
                raise ValueError(f"{path}: this run already finished{trained}; nothing to resume{hint}")
        if command in STATE_AT_TOP and (path / MODEL_FILE).is_file() and not (path / STATE_FILE).is_file():
            raise ValueError(  # a deleted state.pt would silently restart the run from epoch 0
                f"{path}: holds model.pt but no state.pt (the velocities, chains and random state a resume needs), "
                "so it cannot continue where it stopped; start a new run (--init can take its model.pt)"
            )
        cfg.pop("environment", None)
        run = cls(path, cfg, resumed=True)
        if not run.lock.acquire():
            raise ValueError(
                f"{path}: in use by another revival process (PID {run.lock.owner()}); "
                "wait for it to end or stop it first"
            )
        if summary.get("status") == STATUS_RUNNING:
            run.set_status(
                STATUS_KILLED,
                hint="the process training this run ended without recording how "
                "(killed, or the machine stopped); resumed from its last saved epoch",
            )
            run.was_killed = True
        return run

    def summary(self) -> dict:
        """``summary.json`` as it stands ({} when missing, unreadable or not an object)."""
        p = self.path / "summary.json"
        try:
            cur = read_json(p) if p.is_file() else {}
        except (OSError, ValueError):
            cur = {}
        return cur if isinstance(cur, dict) else {}

    def mark_resumed(self) -> "Run":
        """The reopened run is being written again: ``running`` (so a SIGKILL from now on is seen as
        ``killed`` by the next resume, and ``--init`` / ``report`` can tell), with how it had ended
        before appended to ``resumed_from``. Called when training starts, after every check."""
        cur = self.summary()
        before = {"status": cur.get("status", "unknown"), "at": time.strftime("%Y-%m-%d %H:%M:%S")}
        self.set_status(STATUS_RUNNING, drop=STALE_FIELDS, resumed_from=[*cur.get("resumed_from", []), before])
        return self

    def record_resume(self, changed: dict):
        """Note in ``config.json`` when the run was resumed and which options changed (--epochs, --device)."""
        p = self.path / "config.json"
        cfg = read_json(p)
        cfg.setdefault("resumed", []).append({"at": time.strftime("%Y-%m-%d %H:%M:%S"), **changed})
        cfg["options"].update({k: v for k, v in changed.items() if k in cfg["options"]})
        write_json(p, cfg)
        self.config["options"].update({k: v for k, v in changed.items() if k in self.config["options"]})

    def set_status(self, status: str, drop: tuple = (), **fields):
        """Update ``summary.json`` with ``status`` and extra fields (merged into what is there, less
        the keys in ``drop``), and a short ``summary.md`` unless the run has finished (then the
        experiment writes the full one). A disk that cannot take the write does not hide the
        original error."""
        p = self.path / "summary.json"
        cur = self.summary()
        for k in drop:
            cur.pop(k, None)
        cur.update(fields)
        cur["status"] = status
        try:
            write_json(p, cur)
            if status != STATUS_FINISHED:
                lines = [f"# {self.config.get('command', 'run')}: {self.path.name}", "", f"status: **{status}**", ""]
                lines += [
                    f"- {k}: {v}"
                    for k, v in cur.items()
                    if k not in ("status", "rows") and not isinstance(v, (dict, list))
                ]
                atomic_write_bytes(self.path / "summary.md", ("\n".join(lines) + "\n").encode())
        except OSError:
            pass
        return cur

    def write_summary(self, summary: dict, markdown: str):
        """The finished run's summary (kept: ``resumed_from``, the history of its earlier ends)."""
        p = self.path / "summary.json"
        cur = self.summary()
        if cur.get("resumed_from") and "resumed_from" not in summary:
            summary = {**summary, "resumed_from": cur["resumed_from"]}
        write_json(p, summary)
        atomic_write_bytes(self.path / "summary.md", markdown.encode())

    @contextlib.contextmanager
    def recording(self):
        """``with run.recording():`` records how the block ended in ``summary.json`` (and
        ``summary.md``): finished (the block writes that), interrupted, diverged (with the epoch)
        or failed (with one line; the traceback goes to ``traceback.txt``), then releases the lock.
        Interrupted and Diverged leave with ``run_path`` and ``saved`` (is there anything to
        resume?) so the CLI can say the truth. Exceptions propagate."""
        run = self
        ended = False
        try:
            yield self
            ended = run.summary().get("status") == STATUS_FINISHED
            if ended:  # a failure before a successful resume is history: its traceback no longer applies
                (run.path / "traceback.txt").unlink(missing_ok=True)
        except (Interrupted, KeyboardInterrupt) as e:
            # KeyboardInterrupt: Ctrl-C outside a GracefulStop block
            e = e if isinstance(e, Interrupted) else Interrupted(signal.SIGINT)
            e.run_path, e.saved = run.path, has_checkpoint(run.path)
            hint = (
                f"continue with --resume {run.path}"
                if e.saved
                else f"stopped before the first epoch ended: nothing saved yet; --resume {run.path} starts it from epoch 0"
            )
            run.set_status(STATUS_INTERRUPTED, signal=str(e), exit_code=e.exit_code, hint=hint)
            raise e from None
        except Diverged as e:
            e.run_path, e.saved = run.path, has_checkpoint(run.path)
            run.set_status(
                STATUS_DIVERGED,
                epoch=e.epoch,
                reason=str(e),
                hint="lower --lr (or raise --weight-decay); "
                + ("the checkpoint holds the last good epoch" if e.saved else "no epoch finished, nothing was saved"),
            )
            raise
        except BaseException as e:
            import traceback

            line = one_line(e)
            try:
                atomic_write_bytes(run.path / "traceback.txt", traceback.format_exc().encode())
            except OSError:
                pass
            run.set_status(STATUS_FAILED, error=line)
            raise
        finally:
            run.lock.release(remove=ended)  # a finished run keeps no .lock


# ------------------------------------------------------------------------- the run lifecycle


def resolve_device(spec: str) -> torch.device:
    """``auto`` -> cuda if available else cpu; ``cuda[:N]`` must exist. ValueError otherwise."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(spec)
    except (RuntimeError, ValueError, TypeError):
        raise ValueError(f"--device {spec!r}: expected auto, cpu or cuda[:N]") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {spec}: CUDA is not available on this machine (use --device cpu or auto)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif dev.type != "cpu":
        raise ValueError(f"--device {spec}: expected auto, cpu or cuda[:N]")
    return dev


class StepProgress:
    """Progress of a long step that is not an epoch (AIS over its betas, MC evaluation): a bar on a
    terminal, otherwise a plain line at every tenth of the way; ``update(done)`` with the count so far."""

    def __init__(self, total: int, label: str, bar: bool, echo=None):
        self.total, self.label, self.echo, self.shown, self.t0 = total, label, echo, 0, time.perf_counter()
        self.progress = Progress(total, label, bar)

    def update(self, done: int, total: int | None = None):
        if self.progress.bar is not None:
            self.progress.bar.update(done - self.progress.bar.pos)
        elif self.echo is not None and done * 10 // self.total > self.shown:
            self.shown = done * 10 // self.total
            elapsed = time.perf_counter() - self.t0
            left = elapsed * (self.total - done) / max(done, 1)
            self.echo(
                f"{self.label}: {done:,}/{self.total:,} ({100 * done // self.total}%), "
                f"{elapsed:.0f} s so far, about {left:.0f} s left"
            )

    def close(self):
        self.progress.close()


def duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``2 h 07 min``: a time a person reads at a glance."""
    s = int(round(max(0.0, seconds)))
    if s < 60:
        return f"{max(0.0, seconds):.1f} s" if seconds < 10 else f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class EpochClock:
    """The console's honest epoch time: wall time per epoch including evaluation, logging and the
    checkpoint (not training alone), and the time left at that pace, for the epochs this process
    trains (``start`` .. ``epochs``)."""

    def __init__(self, start: int, epochs: int):
        self.t0, self.start, self.epochs = time.perf_counter(), start, epochs

    def lap(self, done: int, of: str = "") -> str:
        """After epoch ``done`` (counting from 1): ``"3.6 s/epoch, about 2 min 10 s left"`` (``of``, e.g.
        ``" in this phase"``, follows "left")."""
        per = (time.perf_counter() - self.t0) / max(1, done - self.start)
        left = self.epochs - done
        pace = f"{per:.1f} s/epoch" if per >= 0.1 else f"{per * 1000:.0f} ms/epoch"  # 100 images: ~20 ms
        return pace + (f", about {duration(per * left)} left{of}" if left > 0 else "")


class Progress:
    """A progress bar over an epoch's batches on a terminal; silent otherwise."""

    def __init__(self, total: int, label: str, enabled: bool):
        self.bar = None
        if enabled and total > 0:
            import click

            self.bar = click.progressbar(length=total, label=label, file=sys.stderr)
            self.bar.__enter__()

    def step(self):
        if self.bar is not None:
            self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def has_checkpoint(path: Path) -> bool:
    """Whether a run folder holds anything ``--resume`` continues from (a completed epoch or point)."""
    path = Path(path)
    return any(path.rglob(STATE_FILE)) or any(path.rglob(RESULT_FILE))


def guarded(run: "Run", body):
    """``body()`` inside ``run.recording()`` (the older form; new code uses the ``with`` block)."""
    with run.recording():
        return body()


def one_line(e: BaseException) -> str:
    """An exception as one line: an OSError as ``file: reason`` (saying so when the disk is full),
    a ValueError as its message, anything else with its type."""
    import errno

    if isinstance(e, OSError) and e.strerror:
        msg = f"{e.filename}: {e.strerror}" if e.filename else e.strerror
        if e.errno == errno.ENOSPC:
            msg += " (disk full: free some space or choose another --logdir, then --resume)"
        return msg
    msg = " ".join(str(e).split())
    if isinstance(e, ValueError) and msg:
        return msg
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


def save_epoch(folder: Path, model: dict | None, state: dict):
    """The pair written after every completed epoch: ``state.pt`` (what resume needs, the model's
    parameters included) first, then the public ``model.pt``; each atomic. A failure between the two
    leaves state.pt one epoch ahead, and resume trusts state.pt."""
    save_torch(Path(folder) / STATE_FILE, state)
    if model is not None:
        save_torch(Path(folder) / MODEL_FILE, model)


def load_state(folder: Path, device) -> dict | None:
    """``folder/state.pt`` for resume, or None when there is none; ValueError naming the file when
    it cannot be read."""
    p = Path(folder) / STATE_FILE
    if not p.is_file():
        return None
    try:
        st = torch.load(p, map_location=device, weights_only=True)
    except Exception as e:  # noqa: BLE001 - a torn or foreign file gets one line
        raise ValueError(
            f"{p}: cannot be read ({type(e).__name__}); delete it to restart this part from epoch 0"
        ) from None
    if not isinstance(st, dict) or "epoch" not in st:
        raise ValueError(f"{p}: not a revival resume state; delete it to restart this part from epoch 0")
    return st


def load_checkpoint(path) -> tuple[dict, Path]:
    """A checkpoint dict from a run folder (its ``model.pt``) or a file, loaded with
    ``weights_only=True``; ValueError with one line when it is missing or unreadable."""
    p = Path(path)
    if p.is_dir():
        p = p / MODEL_FILE
    if not p.is_file():
        raise ValueError(f"{p}: no such checkpoint")
    try:
        return torch.load(p, map_location="cpu", weights_only=True), p
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same one-line error
        raise ValueError(f"{p}: cannot be read as a torch checkpoint ({type(e).__name__})") from None

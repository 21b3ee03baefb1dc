"""Run folders: ``<logdir>/<command>/<YYYYmmdd-HHMMSS>[-<name>]/``, their lock, ``config.json``,
``summary.json`` / ``summary.md`` and how a run ended (:class:`Run`), written atomically. No torch
and no numpy here, so the CLI and tests that only look at folders start fast."""

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

from revival import __version__
from revival.errors import Diverged, Interrupted, OptionError  # noqa: F401 (the run outcomes, re-exported)
import errno
import traceback

STATUS_RUNNING, STATUS_FINISHED = "running", "finished"

STATUS_DIVERGED, STATUS_INTERRUPTED, STATUS_FAILED = "diverged", "interrupted", "failed"

STATUS_KILLED = "killed"  # left "running" by a process that died without recording how it ended

MODEL_FILE, STATE_FILE, RESULT_FILE = "model.pt", "state.pt", "result.json"
COMPOSED_FILE = "composed.pt"  # a DBM as its pretraining RBMs composed it, before joint training (its baseline)

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
    from importlib.metadata import version  # here: only a new run asks


    return {
        "revival": __version__,
        "torch": version("torch"),
        "numpy": version("numpy"),
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
    if hasattr(x, "tolist") and not isinstance(x, (str, bytes)):  # a tensor, numpy array or numpy scalar
        return jsonable(x.tolist())
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


LOCK_FILE = ".lock"


class ResumeRefused(ValueError):
    """A resume that would change settings the run keeps in its config.json: ``names`` them, beside the
    run's ``stored`` options and the settings that ``may_change``."""

    def __init__(self, path: Path, names: list, stored: dict, may_change: tuple):
        self.path, self.names, self.stored, self.may_change = path, names, stored, may_change
        super().__init__(f"{path}: {', '.join(names)} cannot change on resume; only {', '.join(may_change)} may")


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
        import fcntl  # POSIX only

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
    def resume(cls, path, command: str, changes: dict, may_change: tuple) -> "Run":
        """The one resume, of the commands' ``--resume`` and of ``RunLogger(resume=...)``: reopen the
        folder (:meth:`reopen`: a run of ``command``, not finished unless ``changes`` asks for more
        epochs, not in use) and refuse ``changes`` to any setting but ``may_change``
        (:class:`ResumeRefused`, the lock released). The caller records the changes it keeps
        (:meth:`record_resume`) and marks the run resumed when it starts (:meth:`mark_resumed`)."""
        refused = [k for k in changes if k not in may_change]
        if refused:  # said first, before the folder's own state (finished, in use) is looked at
            try:
                stored = read_json(Path(path) / "config.json")["options"]
            except (OSError, ValueError, TypeError, KeyError):
                stored = None  # not a readable run: reopen says so
            if isinstance(stored, dict):
                raise ResumeRefused(Path(path), refused, stored, may_change)
        run = cls.reopen(path, command, epochs=changes.get("epochs"))
        if refused:
            run.lock.release()
            raise ResumeRefused(Path(path), refused, run.config["options"], may_change)
        return run

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

            line = one_line(e)
            try:
                atomic_write_bytes(run.path / "traceback.txt", traceback.format_exc().encode())
            except OSError:
                pass
            run.set_status(STATUS_FAILED, error=line)
            raise
        finally:
            run.lock.release(remove=ended)  # a finished run keeps no .lock


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

    if isinstance(e, OSError) and e.strerror:
        msg = f"{e.filename}: {e.strerror}" if e.filename else e.strerror
        if e.errno == errno.ENOSPC:
            msg += " (disk full: free some space or choose another --logdir, then --resume)"
        return msg
    msg = " ".join(str(e).split())
    if isinstance(e, ValueError) and msg:
        return msg
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__

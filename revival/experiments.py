"""Named experiments: ``pretrain-rbm`` (and its evaluation). Each takes resolved options, a Run and
a device, runs the data -> model -> train loop, and decides what is logged."""
from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import data as D
from . import partition as P
from . import rbm as R
from . import runs
from .train import (Diverged, GracefulStop, Interrupted, RBMTrainConfig, RBMTrainer, first_non_finite, host_floats,
                    rbm_monitor)

MODEL_FILE, STATE_FILE = "model.pt", "state.pt"
DISPLAY_STEPS = 20  # Gibbs sweeps per epoch of the display chains behind rbm/samples


def guarded(run: runs.Run, body: Callable[[], dict]) -> dict:
    """Run ``body`` and record how it ended in ``summary.json``: finished, interrupted (with the
    last completed epoch), diverged (with the epoch) or failed. Exceptions propagate to the CLI."""
    try:
        return body()
    except (Interrupted, KeyboardInterrupt) as e:
        # KeyboardInterrupt: Ctrl-C outside the training loop (e.g. during the final AIS)
        e = e if isinstance(e, Interrupted) else Interrupted(signal.SIGINT)
        run.set_status(runs.STATUS_INTERRUPTED, signal=str(e), exit_code=e.exit_code,
                       hint=f"continue with --resume {run.path}")
        raise e from None
    except Diverged as e:
        run.set_status(runs.STATUS_DIVERGED, epoch=e.epoch, reason=str(e),
                       hint="lower --lr (or raise --weight-decay); the checkpoint holds the last good epoch")
        raise
    except BaseException as e:
        run.set_status(runs.STATUS_FAILED, error=f"{type(e).__name__}: {e}")
        raise


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


def resolve_device(spec: str) -> torch.device:
    """``auto`` -> cuda if available else cpu; ``cuda[:N]`` must exist. ValueError otherwise."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(spec)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {spec}: CUDA is not available on this machine (use --device cpu or auto)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif dev.type != "cpu":
        raise ValueError(f"--device {spec}: expected auto, cpu or cuda[:N]")
    return dev


# ------------------------------------------------------------------------- pretrain-rbm

def rbm_data(opts: dict, device) -> dict:
    """Training and validation visible data for an RBM run, plus the fixed monitoring subsets."""
    seed = opts["seed"]
    tr_img, _ = D.load_split(opts["dataset"], "train", opts.get("data_dir"), opts.get("train_size"), seed)
    va_img, _ = D.load_split(opts["dataset"], "valid", opts.get("data_dir"))
    stats = D.pixel_stats(tr_img) if opts["visible_type"] == "gaussian" else None
    # a different binarization seed for each split, fixed by the run seed
    train = D.visible_data(tr_img, device, opts["binarize"], D.split_seed(seed, "train"), stats)
    valid = D.visible_data(va_img, device, opts["binarize"], D.split_seed(seed, "valid"), stats)
    test = None
    if opts.get("ais_runs", 0) > 0:
        te_img, _ = D.load_split(opts["dataset"], "test", opts.get("data_dir"))
        test = D.visible_data(te_img, device, opts["binarize"], D.split_seed(seed, "test"), stats)
    n = min(opts["monitor_size"], len(train), len(valid))
    pick = torch.from_numpy(np.random.default_rng(seed).permutation(len(train))[:n]).to(device)
    return {"train": train, "valid": valid, "train_subset": train.batch(pick), "valid_subset": valid.batch(slice(0, n)),
            "stats": stats, "test": test}


def preprocessing(opts: dict, stats) -> dict:
    """How data must be prepared to match a checkpoint (stored beside the public format keys)."""
    pre = {"dataset": opts["dataset"], "binarize": opts["binarize"], "seed": opts["seed"]}
    if stats is not None:
        pre.update(pixel_mean=stats[0].cpu(), pixel_std=stats[1].cpu())
    return pre


def log_rbm_epoch(w, step: int, scalars: dict, metrics: dict, model: R.RBM, momentum: float, lr: float):
    """``scalars``: the epoch's metrics as floats; ``metrics``: the tensors behind the images and histograms."""
    W, b, c = model.params()
    for key, tag in (("recon_error", "rbm/recon_error"), ("free_energy_train", "rbm/free_energy/train"),
                     ("free_energy_valid", "rbm/free_energy/valid"), ("free_energy_gap", "rbm/free_energy/gap"),
                     ("pseudo_log_likelihood", "rbm/pseudo_log_likelihood"), ("update_ratio", "rbm/update_ratio"),
                     ("hidden_mean", "rbm/hidden_mean"), ("log_prob_test", "rbm/log_prob/test"), ("log_Z", "rbm/log_Z")):
        if key in scalars:
            w.add_scalar(tag, scalars[key], step)
    w.add_scalar("rbm/momentum", momentum, step)
    w.add_scalar("rbm/lr", lr, step)
    w.add_histogram("weights/weight", W.cpu(), step)
    w.add_histogram("weights/visible_bias", b.cpu(), step)
    w.add_histogram("weights/hidden_bias", c.cpu(), step)
    w.add_histogram("rbm/hidden_activations", metrics["hidden_probs"][:256].cpu(), step)
    nfilt = min(100, W.shape[0])
    runs.add_gray_image(w, "rbm/filters", runs.image_grid(W[:nfilt], int(np.ceil(np.sqrt(nfilt))), scale_each=True), step)
    shown = lambda x: x if model.visible_type == "bernoulli" else torch.sigmoid(x)  # noqa: E731 (Gaussian: squash for display)
    ns = metrics["samples"].shape[0]
    runs.add_gray_image(w, "rbm/samples", runs.image_grid(shown(metrics["samples"]), int(np.ceil(np.sqrt(ns)))), step)
    pairs = torch.stack([metrics["originals"][:50], metrics["recon"][:50]], 1).reshape(-1, W.shape[1])
    runs.add_gray_image(w, "rbm/reconstructions", runs.image_grid(shown(pairs), 10), step)


def epoch_line(epoch: int, epochs: int, m: dict, seconds: float) -> str:
    parts = [f"epoch {epoch}/{epochs}", f"recon {m['recon_error']:.3f}", f"F(train) {m['free_energy_train']:.2f}",
             f"F(valid) {m['free_energy_valid']:.2f}", f"gap {m['free_energy_gap']:+.2f}"]
    if "pseudo_log_likelihood" in m:
        parts.append(f"PLL {m['pseudo_log_likelihood']:.2f}")
    if "log_prob_test" in m:
        parts.append(f"logp(test) {m['log_prob_test']:.2f}")
    parts += [f"|dW|/|W| {m['update_ratio']:.2e}", f"{seconds:.1f}s"]
    return "  ".join(parts)


def pretrain_rbm(opts: dict, device, make_run: Callable[[], runs.Run], echo=print, progress: bool = False,
                 resume: bool = False) -> dict:
    """Train one RBM by CD-k or PCD on ``opts['dataset']``, logging every epoch to the run.

    The data is loaded (and checked) before ``make_run`` creates or reopens the run folder, so bad
    data leaves no folder behind. Writes ``model.pt`` (public format) and ``state.pt`` (everything needed to resume bit for bit)
    atomically after each completed epoch, then ``summary.json``/``summary.md``."""
    cfg = RBMTrainConfig.from_dict(opts)
    d = rbm_data(opts, device)
    run = make_run()
    echo(f"run folder: {run.path}")
    gen = torch.Generator(device=device).manual_seed(opts["seed"])
    model = R.RBM(784, cfg.hidden, cfg.visible_type).to(device)
    model.init_(gen, d["train"].all().mean(0))
    trainer = RBMTrainer(model, cfg, gen)
    # display chains for the rbm/samples images: PCD shows its own chains; otherwise 100 chains
    # kept across epochs (DISPLAY_STEPS Gibbs sweeps each epoch), started from noise
    display_gen = torch.Generator(device=device).manual_seed(opts["seed"] + 12_345)
    display = None
    if trainer.chain is None:
        mean = torch.sigmoid(model.visible_bias) if cfg.visible_type == "bernoulli" else model.visible_bias
        display = R.sample_visible(mean.detach().expand(100, -1).contiguous(), cfg.visible_type, display_gen)
    start, last = 0, {}
    if resume:
        st = torch.load(run.path / STATE_FILE, map_location=device, weights_only=True)
        model.load_state_dict(st["model"])
        trainer.load_state_dict(st["trainer"])
        start = st["epoch"]
        last = st.get("metrics", {})
        if display is not None:
            display = st["display"]
        echo(f"resuming {run.path} after epoch {start}")
    pre = preprocessing(opts, d["stats"])

    def body():
        nonlocal last, display
        with runs.writer(run.path, purge_step=start + 1 if resume else None) as w, GracefulStop() as stop:
            if not resume:
                w.add_text("config", runs.markdown_table(run.config), 0)
            for epoch in range(start, cfg.epochs):
                t0 = time.perf_counter()
                bar = Progress(-(-len(d["train"]) // cfg.batch_size), f"epoch {epoch + 1}", progress)
                try:
                    m = trainer.train_epoch(d["train"], epoch, stop.check, bar.step)
                finally:
                    bar.close()
                mon_gen = torch.Generator(device=device).manual_seed(opts["seed"] * 1_000_003 + epoch + 1)
                m.update(rbm_monitor(model, d["train_subset"], d["valid_subset"], mon_gen,
                                     trainer.chain if display is None else display, 100,
                                     0 if display is None else DISPLAY_STEPS))
                if display is not None:
                    display = m["chain"]
                if opts.get("ais_runs", 0) > 0 and opts.get("ais_every", 0) > 0 and (epoch + 1) % opts["ais_every"] == 0:
                    est = log_prob(model, d["test"], d["train"], "ais", opts["ais_runs"], AIS_MONITOR_BETAS, opts["seed"] + epoch)
                    m["log_prob_test"], m["log_Z"] = est["avg_log_prob"], est["log_Z"]
                scalars = {k: v for k, v in m.items() if k not in ("hidden_probs", "samples", "recon", "originals", "chain")}
                bad = first_non_finite({**scalars, **dict(model.named_parameters())})
                if bad is not None:
                    w.add_text("status", f"diverged at epoch {epoch + 1}: non-finite {bad}", epoch + 1)
                    raise Diverged(epoch + 1, bad)
                last = host_floats(scalars)
                log_rbm_epoch(w, epoch + 1, last, m, model, cfg.momentum_at(epoch), cfg.lr_at(epoch))
                w.flush()
                ck = R.checkpoint_dict(model, {**cfg.as_dict(), "epochs_completed": epoch + 1},
                                       {"preprocessing": pre})
                runs.save_torch(run.path / MODEL_FILE, ck)
                runs.save_torch(run.path / STATE_FILE, {"epoch": epoch + 1, "model": model.state_dict(),
                                                        "trainer": trainer.state_dict(), "display": display,
                                                        "metrics": last})
                echo(epoch_line(epoch + 1, cfg.epochs, last, time.perf_counter() - t0))
                stop.check()
        summary = {"status": runs.STATUS_FINISHED, "epochs": cfg.epochs, "final": last,
                   "model": str(run.path / MODEL_FILE)}
        if opts.get("ais_runs", 0) > 0:
            if model.visible_type == "gaussian" and not P.can_enumerate(model.weight, "gaussian"):
                echo(f"log-probability skipped: AIS needs Bernoulli visibles, and exact log Z at most "
                     f"{P.MAX_EXACT_UNITS} hidden units")
            else:
                method = "auto"
                echo(f"estimating log Z ({opts['ais_runs']} AIS runs x {opts['ais_betas']} betas, or exact if small) ...")
                summary["log_prob"] = log_prob(model, d["test"], d["train"], method, opts["ais_runs"],
                                               opts["ais_betas"], opts["seed"])
                echo(log_prob_line(summary["log_prob"]))
        run.write_summary(summary, rbm_summary_md(run, summary))
        return summary

    return guarded(run, body)


def rbm_summary_md(run: runs.Run, summary: dict) -> str:
    lines = [f"# pretrain-rbm: {run.path.name}", "", f"status: **{summary['status']}**, epochs: {summary['epochs']}", "",
             "| metric | final value |", "| --- | --- |"]
    lines += [f"| {k} | {v:.4f} |" for k, v in summary["final"].items()]
    if "log_prob" in summary:
        lines += ["", "## test log-probability", "", runs.markdown_table(summary["log_prob"])]
    lines += ["", "## configuration", "", runs.markdown_table(run.config)]
    return "\n".join(lines) + "\n"


def load_rbm(path) -> tuple[R.RBM, dict]:
    """An RBM checkpoint from a run folder or a ``model.pt`` path; ValueError if it is not one."""
    p = Path(path)
    if p.is_dir():
        p = p / MODEL_FILE
    if not p.is_file():
        raise ValueError(f"{p}: no such checkpoint")
    try:
        ck = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same one-line error
        raise ValueError(f"{p}: cannot be read as a torch checkpoint ({type(e).__name__})") from None
    return R.from_checkpoint(ck, str(p)), ck


# ------------------------------------------------------------------------- log-probability

AIS_MONITOR_BETAS = 1000  # the cheap schedule used by --ais-every during training


def log_prob(model: R.RBM, data: D.Visible, train: D.Visible, method: str = "auto", ais_runs: int = 100,
             ais_betas: int = 14_501, seed: int = 0, batch: int = 10_000) -> dict:
    """Average log-probability of ``data`` under ``model`` (nats per example) with its log Z:
    exact when a layer is small enough (``auto``/``exact``), else AIS from a base-rate model fitted to
    the pixel means of ``train``. Bounds on log Z give the opposite bounds on the log-probability."""
    W, b, c = model.params()
    vt = model.visible_type
    if method == "auto":
        method = "exact" if P.can_enumerate(W, vt) else "ais"
    if method == "exact":
        if not P.can_enumerate(W, vt):
            raise ValueError(f"--method exact needs a layer of at most {P.MAX_EXACT_UNITS} units "
                             f"(this RBM is {W.shape[1]}x{W.shape[0]}); use --method ais")
        lz = float(P.exact_log_z(W, b, c, vt))
        res = {"method": "exact", "log_Z": lz, "log_Z_lower": lz, "log_Z_upper": lz}
    elif method == "ais":
        if vt != "bernoulli":
            raise ValueError("AIS supports Bernoulli visible units only; this RBM has Gaussian visibles "
                             f"(--method exact works when the hidden layer has at most {P.MAX_EXACT_UNITS} units)")
        if ais_runs < 1:
            raise ValueError("AIS needs --ais-runs >= 1")
        base = P.base_rate_bias(train.all().mean(0))
        gen = torch.Generator(device=W.device).manual_seed(seed)
        r = P.ais_log_z(W, b, c, base, ais_runs, P.betas_of_size(ais_betas, W.device), gen)
        res = {"method": "ais", "log_Z": r.log_z, "log_Z_lower": r.log_z_lower, "log_Z_upper": r.log_z_upper,
               "log_Z_base": r.log_z_base, "ais_runs": r.n_runs, "ais_betas": r.n_betas, "ess": r.ess,
               "log_Z_lower_markov": r.log_z_lower_markov}
    else:
        raise ValueError(f"unknown method {method!r}")
    chunks = (data.batch(slice(i, i + batch)) for i in range(0, len(data), batch))
    mean_neg_f = P.avg_log_prob(chunks, W, b, c, 0.0, vt)
    res.update(avg_log_prob=mean_neg_f - res["log_Z"], avg_log_prob_lower=mean_neg_f - res["log_Z_upper"],
               avg_log_prob_upper=mean_neg_f - res["log_Z_lower"], n_examples=len(data))
    if "log_Z_lower_markov" in res:  # 99% one-sided: the estimate is at most log 100 nats too pessimistic
        res["avg_log_prob_upper_markov"] = mean_neg_f - res["log_Z_lower_markov"]
    return res


def log_prob_line(r: dict) -> str:
    s = f"avg log p(v) = {r['avg_log_prob']:.2f} nats over {r['n_examples']} examples, log Z = {r['log_Z']:.2f}"
    if r["method"] == "ais":
        s += (f" [{r['log_Z_lower']:.2f}, {r['log_Z_upper']:.2f}] (AIS, {r['ais_runs']} runs x {r['ais_betas']} betas,"
              f" ESS {r['ess']:.1f})")
    else:
        s += " (exact)"
    return s


def evaluate_rbm(path, opts: dict, device) -> dict:
    """``revival evaluate-rbm``: log Z and the average log-probability of a split for a checkpoint
    (a run folder or a ``model.pt``, ours or anyone's in the documented format)."""
    model, ck = load_rbm(path)
    model.to(device)
    pre = ck.get("preprocessing") or {}
    dataset = opts.get("dataset") or pre.get("dataset", "mnist")
    binarize = opts.get("binarize") or pre.get("binarize", "stochastic")
    seed = opts["seed"] if opts.get("seed") is not None else int(pre.get("seed", 0))
    if model.n_visible != 784:
        raise ValueError(f"{path}: the model has {model.n_visible} visible units; {dataset} images have 784")
    stats = None
    if model.visible_type == "gaussian":
        if "pixel_mean" not in pre:
            raise ValueError(f"{path}: a Gaussian-visible checkpoint needs preprocessing.pixel_mean/pixel_std")
        stats = (pre["pixel_mean"].float(), pre["pixel_std"].float())
    tr_img, _ = D.load_split(dataset, "train", opts.get("data_dir"))
    sp_img, _ = D.load_split(dataset, opts["split"], opts.get("data_dir"))
    train = D.visible_data(tr_img, device, binarize, D.split_seed(seed, "train"), stats)
    data = D.visible_data(sp_img, device, binarize, D.split_seed(seed, opts["split"]), stats)
    t0 = time.perf_counter()
    res = log_prob(model, data, train, opts["method"], opts["ais_runs"], opts["ais_betas"], seed)
    res.update(seconds=time.perf_counter() - t0, split=opts["split"], dataset=dataset, binarize=binarize,
               seed=seed, checkpoint=str(path), n_visible=model.n_visible, n_hidden=model.n_hidden)
    return res

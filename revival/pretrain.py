"""What ``pretrain-rbm``, ``pretrain-dbn`` and ``evaluate-rbm`` do once their options are checked:
thin clients of the library (:func:`revival.fit_rbm` / :func:`revival.fit_dbn` with a
:class:`revival.RunLogger` on the command's run folder), then the final log-probability, the
warnings and the summary; and the evaluation of a saved model. It sits beside :mod:`revival.api`,
whose fits it runs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from revival import data as D
from revival import runs
from revival import tables as T
from revival.api import RunLogger, fit_dbn, fit_rbm
from revival.config import DBNConfig, RBMConfig, per_layer
from revival.models import dbn as DBN
from revival.models import partition as P
from revival.models import rbm as R
from revival.models.dbm import MAX_EXACT_UNITS, from_checkpoint
from revival.training.dbm_train import log_prob as dbm_log_prob
from revival.training.health import base_rate_log_prob, degenerate_warnings
from revival.training.layerwise import next_layer_data
from revival.training.train import GracefulStop

# ------------------------------------------------------------------------- data


def preprocessing(opts: dict, stats) -> dict:
    """How data must be prepared to match a checkpoint (stored beside the public format keys)."""
    pre = {"dataset": opts["dataset"], "binarize": opts["binarize"], "seed": opts["seed"]}
    if stats is not None:
        pre.update(pixel_mean=stats[0].cpu(), pixel_std=stats[1].cpu())
    return pre


def pixel_data(opts: dict, device, splits=("train", "valid")) -> tuple[dict, tuple | None]:
    """The first layer's visible data for ``splits`` (binarized or standardised as the options say),
    checked before any run folder exists; also the pixel statistics of Gaussian visibles."""
    seed = opts["seed"]
    try:
        images = {
            s: D.load_split(
                opts["dataset"],
                s,
                opts.get("data_dir"),
                opts.get("train_size") if s == "train" else None,
                seed,
                opts.get("download") or None,
            )[0]
            for s in splits
        }
    except D.TooFew as e:  # an option's value, not a data file's fault: exit 2 naming the option
        raise runs.OptionError(
            "--train-size",
            f"--train-size {e.wanted} is larger than the {opts['dataset']} training split ({e.have} images)",
        ) from None
    stats = D.pixel_stats(images["train"]) if opts["visible_type"] == "gaussian" else None
    # a different binarization seed for each split, fixed by the run seed
    return {
        s: D.visible_data(x, device, opts["binarize"], D.split_seed(seed, s), stats) for s, x in images.items()
    }, stats


# ------------------------------------------------------------------------- pretrain-rbm


def pretrain_rbm(
    opts: dict, device, make_run: Callable[[], runs.Run], echo=print, progress: bool = False, resume: bool = False
) -> dict:
    """``revival pretrain-rbm``, a thin client of :func:`revival.fit_rbm`: the options become an
    :class:`~revival.config.RBMConfig`, the data are loaded (and checked) before ``make_run`` creates
    or reopens the run folder (so bad data leaves no folder behind), and the fit logs into the run
    through a :class:`~revival.RunLogger` (``model.pt`` and ``state.pt``, for resume bit for bit, after
    each completed epoch). Then the test log-probability, ``summary.json`` / ``summary.md``."""

    splits = ("train", "valid", "test") if opts.get("ais_runs", 0) > 0 else ("train", "valid")
    vis, stats = pixel_data(opts, device, splits)
    cfg = RBMConfig.from_options(opts).replace(device=str(device))
    out = {}

    def finish(run: runs.Run, model: R.RBM, last: dict):
        out["summary"] = summary = {
            "status": runs.STATUS_FINISHED,
            "epochs": opts["epochs"],
            "final": last,
            "model": str(run.path / runs.MODEL_FILE),
        }
        if opts.get("ais_runs", 0) > 0:
            summary["log_prob"] = final_log_prob(model, vis, opts, echo, progress)
        lp = summary.get("log_prob") or {}
        # the final numbers beside the per-epoch curves, and the run's row in the HParams dashboard
        hp = {k: opts.get(k) for k in ("hidden", "epochs", "batch_size", "lr", "cd_k", "persistent", "weight_decay")}
        hp.update(momentum=opts.get("momentum"), dataset=opts.get("dataset"), seed=opts.get("seed"))
        final = {f"rbm/final/{k}": last.get(k) for k in ("recon_error", "free_energy_gap", "pseudo_log_likelihood")}
        final.update(
            {
                "rbm/log_prob/final_test": lp.get("avg_log_prob"),
                "rbm/log_prob/final_raise": lp.get("raise_avg_log_prob"),
            }
        )
        runs.log_final_scalars(run.path, opts["epochs"], final, hp)
        summary["warnings"] = rbm_warnings(model, vis, summary.get("log_prob"), opts["seed"])
        for line in summary["warnings"]:
            echo(line)
        run.write_summary(summary, rbm_summary_md(run, summary))

    logger = RunLogger.for_command(
        make_run, resume, echo, finish, opts, preprocessing(opts, stats), progress, vis.get("test")
    )
    fit_rbm(vis["train"], cfg, x_valid=vis["valid"], logger=logger)
    return out["summary"]


def final_log_prob(model: R.RBM, vis: dict, opts: dict, echo, progress) -> dict | None:
    """pretrain-rbm's last step: the test log-probability (exact, AIS, or the AIS / RAISE sandwich)."""
    if model.visible_type == "gaussian" and not P.can_enumerate(model.weight, "gaussian"):
        echo(
            f"log-probability skipped: AIS needs Bernoulli visibles, and exact log Z at most {P.MAX_EXACT_UNITS} hidden units"
        )
        return None
    echo(f"estimating log Z ({opts['ais_runs']} AIS runs x {opts['ais_betas']} betas, or exact if small) ...")
    method = "sandwich" if opts.get("raise_examples", 0) > 0 and not P.can_enumerate(model.weight) else "auto"
    lp = estimate_log_prob(
        model,
        vis["test"],
        vis["train"],
        method,
        opts["ais_runs"],
        opts["ais_betas"],
        opts["seed"],
        echo,
        progress,
        **sandwich_options(opts),
    )
    echo(log_prob_line(lp))
    if method == "sandwich":
        echo(sandwich_line(lp))
    return lp


def rbm_warnings(model: R.RBM, vis: dict, lp: dict | None, seed: int) -> list[str]:
    """The end-of-run checks of :mod:`revival.training.health`: log-probability against the base-rate model's on
    the same test images, AIS's effective sample size, and 100 samples after 200 Gibbs sweeps."""

    value = base = ess = n_runs = None
    if lp and "avg_log_prob" in lp and model.visible_type == "bernoulli":
        value, ess, n_runs = lp["avg_log_prob"], lp.get("ess"), lp.get("ais_runs")
        base = base_rate_log_prob(vis["train"].all().cpu().numpy(), vis["test"].all().cpu().numpy())
    samples = model.sample(100, gibbs_steps=200, seed=seed) if model.visible_type == "bernoulli" else None
    return degenerate_warnings(value, base, ess, n_runs, samples, "RBM")


def rbm_summary_md(run: runs.Run, summary: dict) -> str:
    lines = [
        f"# {run.config.get('command', 'pretrain-rbm')}: {run.path.name}",
        "",
        f"status: **{summary['status']}**, epochs: {summary['epochs']}",
        "",
        "| metric | final value |",
        "| --- | --- |",
    ]
    lines += [f"| {k} | {v:.4f} |" for k, v in summary["final"].items()]
    if "log_prob" in summary:
        lines += ["", "## test log-probability", "", runs.markdown_table(summary["log_prob"])]
    if summary.get("warnings"):
        lines += ["", "## warnings", "", *summary["warnings"]]
    lines += ["", "## configuration", "", runs.markdown_table(run.config)]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------- pretrain-dbn


def pretrain_dbn(
    opts: dict, device, make_run: Callable[[], runs.Run], echo=print, progress: bool = False, resume: bool = False
) -> dict:
    """``revival pretrain-dbn``, a thin client of :func:`revival.fit_dbn`: greedy layer-wise training of
    a deep belief net (Hinton, Osindero & Teh 2006), layer 1 on the images, layer k+1 on layer k's
    hidden probabilities (``--feed probs``) or samples of them. Each layer is a run in ``layer-K/``;
    the root's ``model.pt`` is the stack so far (``revival.dbn.v1``), rewritten when a layer finishes,
    and ``dbn/samples`` shows the stack's fantasies after each layer. Resume continues at the layer
    and epoch where the run stopped."""

    vis, stats = pixel_data(per_layer(opts, len(opts["layers"]))[0], device)
    cfg = DBNConfig.from_options(opts).replace(device=str(device))
    out = {}

    def finish(run: runs.Run, model, finals: list[dict]):
        out["summary"] = summary = {
            "status": runs.STATUS_FINISHED,
            "layers": finals,
            "model": str(run.path / runs.MODEL_FILE),
        }
        run.write_summary(summary, dbn_summary_md(run, summary))

    logger = RunLogger.for_command(make_run, resume, echo, finish, opts, preprocessing(opts, stats), progress)
    fit_dbn(vis["train"], cfg, x_valid=vis["valid"], logger=logger)
    return out["summary"]


def extend_dbn_epochs(path, opts: dict, epochs) -> tuple[list[int], str]:
    """What ``pretrain-dbn --resume RUN --epochs E`` trains: a finished layer keeps the epochs it
    trained (the layers above it learned from its output, so training it further would leave them
    mismatched), the layer in progress and those not started get ``E`` (one value, or one per layer).
    Returns the per-layer epochs to record and one line saying so; ValueError naming --epochs when
    every layer has finished or when ``E`` is below the epochs the layer in progress already did."""
    n = len(opts["layers"])
    old = per_layer(opts, n)
    new = per_layer({**opts, "epochs": epochs}, n)
    out, kept = [], []
    for k, (o, w) in enumerate(zip(old, new), 1):
        folder = Path(path) / f"layer-{k}"
        if (folder / runs.RESULT_FILE).is_file():
            out.append(o["epochs"])
            kept.append(k)
            continue
        st = runs.load_state(folder, "cpu")
        if st is not None and st["epoch"] > w["epochs"]:
            raise ValueError(
                f"--epochs {w['epochs']}: layer {k} already trained {st['epoch']} epochs; give at least that"
            )
        out.append(w["epochs"])
    if len(kept) == n:
        raise ValueError(
            f"--epochs: every layer of this stack has finished ({', '.join(map(str, out))} epochs); a "
            "finished layer is not trained further, because the layers above it learned from its output. "
            "Train a new stack with the epochs you want instead"
        )
    line = (
        f"layer{'s' if len(kept) > 1 else ''} {', '.join(map(str, kept))} finished earlier and keep"
        f"{'s' if len(kept) == 1 else ''} {', '.join(str(out[k - 1]) for k in kept)} epochs; "
        if kept
        else ""
    )
    line += ", ".join(f"layer {k} trains to {out[k - 1]}" for k in range(1, n + 1) if k not in kept)
    return out, f"resume: {line}"


def dbn_summary_md(run: runs.Run, summary: dict) -> str:
    keys = [
        "layer",
        "n_visible",
        "n_hidden",
        "recon_error",
        "free_energy_train",
        "free_energy_valid",
        "free_energy_gap",
        "update_ratio",
    ]
    lines = [
        f"# pretrain-dbn: {run.path.name}",
        "",
        f"status: **{summary['status']}**",
        "",
        "| " + " | ".join(keys) + " |",
        "|" + " --- |" * len(keys),
    ]
    for row in summary["layers"]:
        lines.append(
            "| "
            + " | ".join(f"{row[k]:.4f}" if isinstance(row.get(k), float) else str(row.get(k, "-")) for k in keys)
            + " |"
        )
    lines += [
        "",
        f"stack: `{summary['model']}` (format {DBN.FORMAT}); each layer's curves in `layer-K/`.",
        "",
        "## configuration",
        "",
        runs.markdown_table(run.config),
    ]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------- evaluate-rbm


def load_rbm(path, layer: int | None = None, loaded: tuple | None = None) -> tuple[R.RBM, dict, list[R.RBM]]:
    """An RBM from a run folder or ``model.pt``: an RBM checkpoint, or layer ``layer`` of a DBN
    checkpoint. Returns the RBM, the checkpoint dict, and the layers below it (empty for layer 1).
    ValueError with one line when it is neither, or when a DBN is given without ``--layer``.
    ``loaded``: :func:`revival.runs.load_checkpoint`'s ``(dict, file)`` when the caller has read it."""
    ck, p = loaded or runs.load_checkpoint(path)
    if isinstance(ck, dict) and ck.get("format") == DBN.FORMAT:
        rbms = DBN.from_checkpoint(ck, str(p))
        if layer is None:
            raise runs.OptionError(
                "--layer", f"{p}: a DBN checkpoint ({len(rbms)} layers); choose one with --layer 1..{len(rbms)}"
            )
        if not 1 <= layer <= len(rbms):
            raise runs.OptionError("--layer", f"{p}: --layer {layer}, but the DBN has layers 1..{len(rbms)}")
        return rbms[layer - 1], ck, rbms[: layer - 1]
    if layer not in (None, 1):
        raise runs.OptionError(
            "--layer", f"{p}: --layer {layer} needs a DBN checkpoint ({DBN.FORMAT}); this is a single RBM"
        )
    return R.from_checkpoint(ck, str(p)), ck, []


def estimate_log_prob(
    model, data, train, method, ais_runs, ais_betas, seed, echo=None, progress=False, **sandwich
) -> dict:
    """:func:`partition.log_prob` that honours SIGINT/SIGTERM between betas and shows its progress
    (a bar on a terminal, a line every 10% otherwise); ``sandwich``: base_rate, raise_examples,
    raise_chains, tolerance, ais_schedule."""
    bar = runs.StepProgress(ais_betas - 1, "AIS betas", progress, echo)
    bar_raise = runs.StepProgress(ais_betas - 2, "RAISE betas", progress, echo) if method == "sandwich" else None
    try:
        with GracefulStop() as stop:
            how = P.Estimate(method, ais_runs, ais_betas, seed, **sandwich)
            return P.log_prob(model, data, train, how, stop.check, bar.update, bar_raise and bar_raise.update)
    finally:
        bar.close()
        if bar_raise is not None:
            bar_raise.close()


def sandwich_options(opts: dict) -> dict:
    out = {k: opts[k] for k in ("base_rate", "raise_chains", "tolerance", "ais_schedule") if opts.get(k) is not None}
    if opts.get("raise_examples"):
        out["raise_examples"] = opts["raise_examples"]
    return out


def sandwich_line(r: dict) -> str:
    """The one-line verdict of ``--method sandwich``. RAISE errs low and AIS high in expectation,
    so only RAISE <= AIS reads as a bracket; when the two cross (RAISE above AIS) no interval is
    printed, only by how much they cross. Neither is a bound on the RBM itself: RAISE is one on the
    forward-annealed model of this schedule (Burda et al. 2015)."""
    lo, hi, gap, tol = r["raise_avg_log_prob"], r["ais_avg_log_prob_subset"], r["sandwich_gap"], r["tolerance"]
    more = "use more betas (--ais-betas) and runs (--ais-runs)"
    head = f"on {r['raise_examples']} examples, ESS {r['ess']:.1f}: "
    if gap < 0:
        head += (
            f"RAISE (conservative) {lo:.2f}, AIS {hi:.2f} (99% bound "
            f"{r['ais_avg_log_prob_subset_upper_markov']:.2f}): AIS and RAISE cross by {-gap:.2f} nats: "
        )
        if r["tight"]:
            return head + f"agreement within the {tol:g}-nat tolerance, no bracket"
        return head + f"beyond the {tol:g}-nat tolerance, both are noisy at this schedule; {more}"
    head += (
        f"RAISE (conservative) {lo:.2f} <= log p <= AIS {hi:.2f} "
        f"(99% bound {r['ais_avg_log_prob_subset_upper_markov']:.2f}): "
    )
    if r["tight"]:
        return head + f"tight ({gap:.2f} nats apart, within the {tol:g}-nat tolerance)"
    return head + f"not tight: the interval is {gap:.2f} nats wide; {more} before trusting either number"


def log_prob_line(r: dict) -> str:
    s = f"avg log p(v) = {r['avg_log_prob']:.2f} nats over {r['n_examples']} examples, log Z = {r['log_Z']:.2f}"
    if r["method"] == "ais":
        bounds = (
            f"[{r['log_Z_lower']:.2f}, {r['log_Z_upper']:.2f}]"
            if r["ais_runs"] > 1
            else "(no interval: one AIS run has no standard error)"
        )
        s += f" {bounds} (AIS, {r['ais_runs']} runs x {r['ais_betas']} betas, ESS {r['ess']:.1f})"
    else:
        s += " (exact)"
    return s


def evaluate_rbm(path, opts: dict, device, echo=None, progress: bool = False) -> dict:
    """``revival evaluate-rbm``: log Z and the average log-probability of a split for a checkpoint
    (a run folder or a ``model.pt``, ours or anyone's in the documented format). For layer K of a
    DBN the data are the up-pass probabilities of the split through layers 1..K-1. A deep Boltzmann
    machine (``revival.dbm.v1``) gets AIS for log Z and the mean-field bound per image."""
    loaded = runs.load_checkpoint(path)
    if isinstance(loaded[0], dict) and loaded[0].get("format") == "revival.dbm.v1":
        return evaluate_dbm(path, loaded[0], opts, device)
    model, ck, below = load_rbm(path, opts.get("layer"), loaded)
    model.to(device)
    below = [r.to(device) for r in below]
    pre, dataset, binarize, seed = evaluation_setting(path, ck, opts)
    n_pixels = (below[0] if below else model).n_visible
    if n_pixels != 784:
        raise ValueError(f"{path}: the model has {n_pixels} visible units; {dataset} images have 784")
    stats = None
    if (below[0] if below else model).visible_type == "gaussian":
        if "pixel_mean" not in pre:
            raise ValueError(f"{path}: a Gaussian-visible checkpoint needs preprocessing.pixel_mean/pixel_std")
        stats = (pre["pixel_mean"].float(), pre["pixel_std"].float())
    train, data = evaluation_data(dataset, binarize, seed, opts, device, stats)
    for rbm in below:
        train, data = (next_layer_data(rbm, x, "probs", 0) for x in (train, data))
    t0 = time.perf_counter()
    res = estimate_log_prob(
        model,
        data,
        train,
        opts["method"],
        opts["ais_runs"],
        opts["ais_betas"],
        seed,
        echo,
        progress,
        **sandwich_options(opts),
    )
    res.update(
        seconds=time.perf_counter() - t0,
        **evaluation_record(path, opts, dataset, binarize, seed),
        n_visible=model.n_visible,
        n_hidden=model.n_hidden,
    )
    if below:
        res.update(layer=len(below) + 1, input=f"up-pass probabilities through layers 1..{len(below)}")
    return res


def evaluation_setting(path, ck: dict, opts: dict) -> tuple[dict, str, str, int]:
    """The checkpoint's preprocessing and the data set, binarization and seed of an evaluation: the
    options where given, else as in training (else mnist, stochastic, 0)."""
    pre = ck.get("preprocessing") or {}
    if not isinstance(pre, dict):
        raise ValueError(f"{path}: 'preprocessing' must be a dict (dataset, binarize, seed), not {type(pre).__name__}")
    dataset = opts.get("dataset") or pre.get("dataset") or "mnist"
    binarize = D.evaluated_as(opts.get("binarize") or pre.get("binarize") or "stochastic")
    seed = opts["seed"] if opts.get("seed") is not None else int(pre.get("seed") or 0)
    return pre, dataset, binarize, seed


def evaluation_data(dataset: str, binarize: str, seed: int, opts: dict, device, stats=None) -> tuple:
    """The training split (for AIS's base-rate model) and the evaluated split, prepared as in training."""
    dl = opts.get("download") or None
    tr_img, _ = D.load_split(dataset, "train", opts.get("data_dir"), allow_download=dl)
    sp_img, _ = D.load_split(dataset, opts["split"], opts.get("data_dir"), allow_download=dl)
    train = D.visible_data(tr_img, device, binarize, D.split_seed(seed, "train"), stats)
    return train, D.visible_data(sp_img, device, binarize, D.split_seed(seed, opts["split"]), stats)


def evaluation_record(path, opts: dict, dataset: str, binarize: str, seed: int) -> dict:
    return {"split": opts["split"], "dataset": dataset, "binarize": binarize, "seed": seed, "checkpoint": str(path)}


def evaluate_dbm(path, ck: dict, opts: dict, device) -> dict:
    """``evaluate-rbm`` on a DBM checkpoint: :func:`revival.training.dbm_train.log_prob` of the split (a lower
    bound on the average log-probability: the mean-field bound per image, AIS or exact log Z)."""

    if opts.get("layer") is not None:
        raise runs.OptionError("--layer", f"{path}: a deep Boltzmann machine is evaluated whole; --layer is for DBNs")
    if opts["method"] == "sandwich":
        raise runs.OptionError("--method", f"{path}: RAISE is implemented for RBMs; a DBM gets AIS (or exact)")
    model = from_checkpoint(ck, str(path)).to(device)
    n_odd = model.odd_units
    if opts["method"] == "exact" and n_odd > MAX_EXACT_UNITS:
        raise runs.OptionError(
            "--method", f"{path}: exact log Z enumerates 2^{n_odd} states; at most 2^{MAX_EXACT_UNITS}"
        )
    _, dataset, binarize, seed = evaluation_setting(path, ck, opts)
    if model.w1.shape[1] != 784:
        raise ValueError(f"{path}: the model has {model.w1.shape[1]} visible units; {dataset} images have 784")
    train, data = evaluation_data(dataset, binarize, seed, opts, device)
    t0 = time.perf_counter()
    res = dbm_log_prob(
        model,
        data.all(),
        train.all(),
        opts["ais_runs"],
        opts["ais_betas"],
        seed,
        exact=opts["method"] != "ais",  # --method ais runs AIS even where enumeration could
        schedule=opts.get("ais_schedule") or T.AIS_SCHEDULE,
    )
    res.update(
        seconds=time.perf_counter() - t0,
        **evaluation_record(path, opts, dataset, binarize, seed),
        layers=model.layers,
    )
    return res

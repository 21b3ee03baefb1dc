"""Benchmark: how near each training loop runs to this machine's matrix-product floor, and where the
rest of its epoch goes.

    REVIVAL_DATA_DIR=~/data python scripts/bench_floor.py [--rows 10000] [--threads 2] [--device cpu]

For every loop a user waits for (an RBM's CD-1, CD-5 and PCD epoch, the same CD-1 epoch with the
per-epoch monitors, TensorBoard and checkpoint that ``revival pretrain-rbm`` adds, a DBN's second
layer on hidden probabilities, a fine-tuning epoch of the hinton2006-dbn net 784-500-500-2000-10 with
and without dropout, and a DBM's joint PCD epoch) it runs the revival code the commands run on
``--rows`` MNIST training images and prints one table, every row measured in this process (the
``-plain`` rows: the same fine-tuning epochs as a plain PyTorch loop, autograd and ``torch.optim.SGD``,
with the ratio of revival's epoch to the plain one, round by round):

- ``s / epoch``: the epoch's wall time, scaled to 60,000 images (the fastest of ``--repeats`` rounds,
  each of which times one epoch of every loop in turn, so that the machine's drift falls on all alike; the
  monitored row's end of epoch, whose monitors look at fixed subsets, is counted once, not scaled);
- ``GFLOP``: the floating-point work of the epoch's matrix products (2 m k n for every ``mm``,
  ``addmm``, ``addmm_``, ``bmm`` and ``baddbmm`` the epoch dispatches, counted by :class:`MatmulFlops`;
  torch's own counters skip the in-place ``addmm_`` the fused CD update uses), scaled to 60,000 images;
- ``of floor``: that work at the rate of a large (2048 x 2048) float32 product measured in the same
  process, divided by the epoch's time: 100% would be an epoch that is nothing but large products;
- the shares of the profiled epoch's own CPU time (self time, so nothing is counted twice) in
  matrix products, random numbers, element-wise work, copies and conversions, and the rest.

The profiler's own overhead inflates the profiled epoch; the shares come from it, the times from
unprofiled epochs. Reference: Hinton's Practical Guide (2010) for the RBM settings, Hinton &
Salakhutdinov (2006) for the net, Salakhutdinov & Hinton (2009) for the DBM.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from revival import data as D  # noqa: E402
from revival import runs  # noqa: E402
from revival.config import NetConfig, RBMConfig, RBMMonitorConfig  # noqa: E402
from revival.models import dbm as M  # noqa: E402
from revival.models.mlp import seeded_mlp  # noqa: E402
from revival.tables import PRECISIONS  # noqa: E402
from revival.training import layerwise as L  # noqa: E402
from revival.training.precision import lowp  # noqa: E402
from revival.training.train import ClassifierTrainer  # noqa: E402

FULL = 60_000  # the training images every row is scaled to (all of MNIST's, as the papers trained)
MATMUL = ("aten::mm", "aten::addmm", "aten::addmm_", "aten::bmm", "aten::baddbmm", "aten::matmul", "aten::linear")
RANDOM = ("bernoulli", "rand", "normal", "uniform", "randperm", "multinomial", "exponential")
COPIES = ("aten::copy_", "aten::to", "aten::_to_copy", "aten::clone", "aten::contiguous", "aten::index")


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_rate(device, n: int = 2048, repeats: int = 10, dtype=torch.float32) -> float:
    """GFLOP/s of an n x n product in ``dtype`` here (the best of ``repeats``)."""
    a, b = torch.randn(n, n, device=device).to(dtype), torch.randn(n, n, device=device).to(dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        sync(device)
        t = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def category(name: str) -> str:
    if name in MATMUL:
        return "matmul"
    if any(r in name for r in RANDOM):
        return "random"
    if name in COPIES or name.startswith("aten::index"):
        return "copies"
    if name.startswith("aten::"):
        return "elementwise"
    return "other"


class MatmulFlops(TorchDispatchMode):
    """Counts the flops of the matrix products dispatched inside it: 2 m k n for [m, k] x [k, n]."""

    def __init__(self):
        super().__init__()
        self.flops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        op = func.overloadpacket.__name__
        if op in ("mm", "addmm", "addmm_"):
            a, b = (args[0], args[1]) if op == "mm" else (args[1], args[2])
            self.flops += 2 * a.shape[0] * a.shape[1] * b.shape[1]
        elif op in ("bmm", "baddbmm", "baddbmm_"):
            a, b = (args[0], args[1]) if op == "bmm" else (args[1], args[2])
            self.flops += 2 * a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2]
        return func(*args, **(kwargs or {}))


def counted(epoch) -> float:
    """GFLOP of one epoch's matrix products."""
    with MatmulFlops() as m:
        epoch()
    return m.flops / 1e9


def profiled(epoch, device) -> dict:
    """One epoch under torch's profiler: {category: share of its self CPU time}."""
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=acts) as prof:
        epoch()
        sync(device)
    self_us = {}
    for e in prof.key_averages():
        c = category(e.key)
        self_us[c] = self_us.get(c, 0.0) + e.self_cpu_time_total
    total = sum(self_us.values()) or 1.0
    return {c: t / total for c, t in self_us.items()}


def timed(epoch, device, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        sync(device)
        t = time.perf_counter()
        epoch()
        sync(device)
        best = min(best, time.perf_counter() - t)
    return best


def rbm_loop(x: D.Visible, cfg: RBMConfig, device, monitored: bool = False):
    """An RBM epoch as revival runs it: :class:`revival.training.layerwise.RBMFit`, with the command's
    sink (monitors, TensorBoard, the state.pt / model.pt pair) when ``monitored``: then a pair, the
    training pass and the end of the epoch, since only the pass grows with the images (the monitors
    look at fixed subsets of ``--monitor-size`` images and the checkpoint is the model's size)."""
    counter = iter(range(10**6))
    if not monitored:
        fit = L.RBMFit(x, cfg, 0, device)
        return lambda: fit.train(next(counter), lambda: None)
    tmp = Path(tempfile.mkdtemp())
    n_mon = min(RBMMonitorConfig().monitor_size, len(x) // 2)
    d = L.LayerData(
        x, x, x.batch(slice(0, n_mon)), x.batch(slice(n_mon, 2 * n_mon)), True, lambda v: v, lambda m: m.params()[0]
    )
    job = L.RBMJob(tmp, {**cfg.train_options(), "monitor_size": n_mon}, d, 0)
    sink = L.RBMRunSink(job, lambda line: None, False)
    fit = L.RBMFit(x, cfg, 0, device, sink=sink)
    writer = runs.writer(tmp)
    sink.w = writer.__enter__()
    last = {}

    def train():
        last["epoch"] = e = next(counter)
        last["m"] = fit.train(e, lambda: None)

    def end():
        fit.end_epoch(last["epoch"], dict(last["m"]))

    return train, end


def net_loop(
    x: D.Visible, y: torch.Tensor, sizes: list[int], dropout: bool, device, plain: bool = False, precision="fp32"
):
    """A fine-tuning epoch as compare-dropout's points run it (:class:`ClassifierTrainer`), or, ``plain``,
    the same epoch as a careful plain PyTorch loop writes it: autograd through the net and
    ``torch.optim.SGD`` (what the trainer itself ran until 2026-12-07; the same numbers), under
    ``torch.autocast`` in bf16."""
    model = seeded_mlp(sizes, "logistic", 0).to(device)
    if dropout:
        model.input_dropout, model.hidden_dropout = 0.2, 0.5
    cfg = NetConfig(layers=tuple(sizes[1:-1]), activation="logistic", batch_size=100, lr=0.1, precision=precision)
    gen, noise = torch.Generator(device=device).manual_seed(0), torch.Generator(device=device).manual_seed(1)
    counter = iter(range(10**6))
    if not plain:
        tr = ClassifierTrainer(model, cfg, gen, noise)
        return lambda: float(tr.train_epoch(x, y, next(counter))["loss"])
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum_at(0))

    def epoch():
        for g in opt.param_groups:
            g["momentum"] = cfg.momentum_at(next(counter))
        total = torch.zeros((), device=device)
        for idx in D.batches(len(x), cfg.batch_size, gen, device):
            with torch.autocast(device.type, dtype=lowp(precision), enabled=lowp(precision) is not None):
                z = model(x.batch(idx), noise, stochastic=True)
            loss = torch.nn.functional.cross_entropy(z.float(), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach()
        return float(total)

    return epoch


def dbm_loop(x: torch.Tensor, device):
    """A joint PCD epoch of a 784-500-1000 DBM (Salakhutdinov & Hinton 2009: 100 chains, 5 Gibbs
    sweeps, 10 mean-field rounds), as ``revival pretrain-dbm`` trains it (DBMConfig's defaults)."""
    from revival.config import DBMConfig
    from revival.training.dbm_train import joint_trainer

    g = torch.Generator(device=device).manual_seed(0)
    model = M.DBM(784, 500, 1000).to(device)
    for w in model.ws:
        w.normal_(0, 0.01, generator=g)
    cfg = DBMConfig()
    tr = joint_trainer(model, cfg, g, x)
    return lambda: tr.train_epoch(x, cfg.batch_size, cfg.lr, cfg.initial_momentum)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000, help="MNIST training images each epoch runs on")
    ap.add_argument(
        "--repeats", type=int, default=2, help="rounds of timed epochs over every loop (the fastest counts)"
    )
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--only", default=None, help="comma-separated loop names to run")
    ap.add_argument(
        "--precision",
        default="fp32",
        choices=PRECISIONS,
        help="the products' precision (the commands' --precision; the DBM's joint epoch has none: left out in "
        "bf16); the floor is the large product in the same precision",
    )
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    device = runs.resolve_device(a.device)
    images, labels = D.load_split("mnist", "train", a.data_dir)
    images, labels = images[: a.rows], labels[: a.rows]
    binary = D.Visible(torch.from_numpy(D.binarize(images, "stochastic", 0)).to(device))
    grey = D.Visible(torch.from_numpy(images).to(device), scale=1 / 255)
    y = torch.from_numpy(labels.astype("int64")).to(device)
    with torch.no_grad():
        probs = D.Visible(torch.sigmoid(grey.all() @ (torch.randn(784, 500, device=device) * 0.05)))
    dtype = lowp(a.precision) or torch.float32
    rate = matmul_rate(device, dtype=dtype)
    print(
        f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, {a.rows:,} images a "
        f"measured epoch (scaled to {FULL:,}), products in {a.precision}"
    )
    rbm = RBMConfig(n_hidden=500, precision=a.precision)
    net = [784, 500, 500, 2000, 10]
    loops = {
        "rbm-cd1": lambda: rbm_loop(binary, rbm, device),
        "rbm-cd1-monitored": lambda: rbm_loop(binary, rbm, device, monitored=True),
        "rbm-cd5": lambda: rbm_loop(binary, rbm.replace(cd_k=5), device),
        "rbm-pcd": lambda: rbm_loop(binary, rbm.replace(persistent=True, lr=0.05), device),
        "dbn-layer2": lambda: rbm_loop(probs, rbm.replace(binarize="none"), device),
        "finetune": lambda: net_loop(grey, y, net, False, device, precision=a.precision),
        "finetune-dropout": lambda: net_loop(grey, y, net, True, device, precision=a.precision),
        "finetune-plain": lambda: net_loop(grey, y, net, False, device, True, a.precision),
        "finetune-dropout-plain": lambda: net_loop(grey, y, net, True, device, True, a.precision),
        "dbm-joint": lambda: dbm_loop(binary.all(), device),
    }
    if a.precision != "fp32":
        del loops["dbm-joint"]
    wanted = a.only.split(",") if a.only else list(loops)
    if set(wanted) - set(loops):
        sys.exit(
            f"error: --only: no loop {', '.join(sorted(set(wanted) - set(loops)))} here (the loops: {', '.join(loops)})"
        )
    scale = FULL / a.rows
    # each loop: its training pass, scaled to 60,000 images, and the end of its epoch (monitors,
    # TensorBoard, checkpoint: fixed sizes) counted once
    parts = {}
    for name in wanted:
        made = loops[name]()
        parts[name] = [(fn, times) for fn, times in zip(made if isinstance(made, tuple) else (made,), (scale, 1.0))]
    gflop, shares = {}, {}
    for name, fns in parts.items():
        gflop[name], shares[name] = 0.0, []
        for fn, times in fns:
            fn()  # warm-up: allocations, the first products
            gflop[name] += counted(fn) * times
            shares[name].append(profiled(fn, device))
    # the timed epochs in rounds over every loop, so the machine's drift falls on all of them alike
    best = {name: [float("inf")] * len(fns) for name, fns in parts.items()}
    per_round = {name: [] for name in parts}
    for _ in range(a.repeats):
        for name, fns in parts.items():
            this = 0.0
            for i, (fn, times) in enumerate(fns):
                dt = timed(fn, device, 1)
                best[name][i] = min(best[name][i], dt * times)
                this += dt * times
            per_round[name].append(this)
    rows = []
    for name, fns in parts.items():
        t, spent = sum(best[name]), {}
        for dt, sh in zip(best[name], shares[name]):
            for c, share in sh.items():
                spent[c] = spent.get(c, 0.0) + share * dt
        rows.append((name, t, gflop[name], {c: v / t for c, v in spent.items()}))
    print("\n| loop | s / epoch | GFLOP | of floor | matmul | random | element-wise | copies | other |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    # the floor's rate: the faster of the measurements before and after the loops (the machine drifts)
    rate = max(rate, matmul_rate(device, dtype=dtype))
    for name, t, g, sh in rows:
        cells = " | ".join(f"{100 * sh.get(c, 0):.0f}%" for c in ("matmul", "random", "elementwise", "copies", "other"))
        print(f"| {name} | {t:.2f} | {g:.0f} | {100 * g / rate / t:.0f}% | {cells} |")
    for name in parts:  # revival's loop against the plain PyTorch loop of the same epoch, round by round
        if name + "-plain" in parts:
            ratios = sorted(x / y for x, y in zip(per_round[name], per_round[name + "-plain"]))
            print(
                f"{name} / {name}-plain, epoch by epoch in the same rounds: median {statistics.median(ratios):.3f} "
                f"(range {ratios[0]:.3f} to {ratios[-1]:.3f}, {len(ratios)} rounds)"
            )
    print(f"\nlarge {a.precision} matmul, the faster of before and after the loops: {rate:.0f} GFLOP/s")


if __name__ == "__main__":
    main()

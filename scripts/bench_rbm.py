"""Benchmark: CD-1 training of a 784-500 RBM, batch 100, on the 50,000-image MNIST training split.

    REVIVAL_DATA_DIR=~/data python scripts/bench_rbm.py [--epochs 3] [--device cuda]

Prints one table, every row measured in this run on this machine: seconds per epoch of revival's
trainer (training alone, and with the per-epoch monitoring and TensorBoard logging that
``revival pretrain-rbm`` does), of a plain hand-written PyTorch CD-1 loop, and of scikit-learn's
``BernoulliRBM`` (same size, batch and epochs; skipped when scikit-learn is missing), next to the
FLOP floor: the CD-1 work of one epoch (10 * N * 784 * 500 flops) at the speed of a large matmul
measured here. Also the peak resident memory of the process after the revival runs.

``--precision bf16`` adds the rows of revival's trainer with its matrix products in bfloat16 (where
``revival.training.precision.probe`` finds bf16 fast; the probe's numbers are printed). ``--scaling`` prints
a second table: seconds per epoch of revival's trainer (training alone, 10,000 images, scaled to
50,000) for hidden sizes 100 / 500 / 2000 x batch sizes 10 / 100 / 1000 x fp32 / bf16, each with
its share of the fp32 FLOP floor, so a reader sees how the cost grows with the work.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from revival import data as D  # noqa: E402
from revival import runs  # noqa: E402
from revival.config import RBMConfig
from revival.models import rbm as R  # noqa: E402
from revival.training import layerwise as L  # noqa: E402
from revival.training.train import RBMTrainer, host_floats, rbm_monitor  # noqa: E402


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_gflops(device, n=2048, reps=3, trials=7) -> float:
    """The best speed of a large square matmul over several trials (the machine's clock and its
    neighbours vary; the best trial is the floor a careful loop could approach)."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    a @ b
    best = 0.0
    for _ in range(trials):
        sync(device)
        t = time.perf_counter()
        for _ in range(reps):
            a @ b
        sync(device)
        best = max(best, 2 * n**3 * reps / (time.perf_counter() - t) / 1e9)
    return best


def batch_matmuls(device, n, batch, n_hidden, reps=3) -> float:
    """Seconds for one epoch of just the matmuls CD-1 needs at its real shapes: three
    [B,784]x[784,H]-sized products and one [H,2B]x[2B,784] gradient product per batch."""
    W = torch.randn(n_hidden, 784, device=device)
    v, h = torch.rand(batch, 784, device=device), torch.rand(batch, n_hidden, device=device)
    V2, H2 = torch.rand(2 * batch, 784, device=device), torch.rand(2 * batch, n_hidden, device=device)
    G = torch.zeros_like(W)
    best = float("inf")
    for _ in range(reps):
        sync(device)
        t = time.perf_counter()
        for _ in range(n // batch):
            v @ W.t()
            h @ W
            v @ W.t()
            G.addmm_(H2.t(), V2)
        sync(device)
        best = min(best, time.perf_counter() - t)
    return best


def plain_cd1(x: torch.Tensor, n_hidden: int, epochs: int, batch: int, lr=0.1, mom=0.5, wd=2e-4, seed=0) -> list[float]:
    """The CD-1 loop one would write by hand (Hinton 2010's recipe), for comparison."""
    g = torch.Generator(device=x.device).manual_seed(seed)
    n, nv = x.shape
    W = torch.randn(n_hidden, nv, device=x.device, generator=g) * 0.01
    b, c = torch.zeros(nv, device=x.device), torch.zeros(n_hidden, device=x.device)
    dW, db, dc = torch.zeros_like(W), torch.zeros_like(b), torch.zeros_like(c)
    times = []
    for _ in range(epochs):
        sync(x.device)
        t = time.perf_counter()
        perm = torch.randperm(n, device=x.device, generator=g)
        for i in range(0, n, batch):
            v0 = x[perm[i : i + batch]].float()
            ph0 = torch.sigmoid(v0 @ W.t() + c)
            h0 = (torch.rand(ph0.shape, device=x.device, generator=g) < ph0).float()
            pv1 = torch.sigmoid(h0 @ W + b)
            ph1 = torch.sigmoid(pv1 @ W.t() + c)
            gW = (ph0.t() @ v0 - ph1.t() @ pv1) / len(v0)
            dW = mom * dW + lr * (gW - wd * W)
            db = mom * db + lr * (v0 - pv1).mean(0)
            dc = mom * dc + lr * (ph0 - ph1).mean(0)
            W, b, c = W + dW, b + db, c + dc
        sync(x.device)
        times.append(time.perf_counter() - t)
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--hidden", type=int, default=500)
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--no-sklearn", action="store_true")
    ap.add_argument(
        "--precision",
        choices=["fp32", "bf16"],
        default="fp32",
        help="also time revival's trainer with bf16 matrix products",
    )
    ap.add_argument("--scaling", action="store_true", help="print the hidden x batch x precision table too")
    ap.add_argument(
        "--cli",
        action="store_true",
        help="also time `revival pretrain-rbm` itself: whole epochs (monitoring, TensorBoard, checkpoints)",
    )
    a = ap.parse_args()
    device = runs.resolve_device(a.device)
    images, _ = D.load_split("mnist", "train", a.data_dir)
    binary = D.binarize(images, "stochastic", 0)
    data = D.Visible(torch.from_numpy(binary).to(device))
    n = len(data)
    print(
        f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"N={n}, 784-{a.hidden}, batch {a.batch_size}, {a.epochs} epochs (fastest epoch; the monitored row: median)"
    )

    gflops = matmul_gflops(device)
    floor = 10 * n * 784 * a.hidden / (gflops * 1e9)
    t_mm = batch_matmuls(device, n, a.batch_size, a.hidden)

    cfg = RBMConfig(n_hidden=a.hidden, batch_size=a.batch_size, epochs=a.epochs)
    from revival.training.precision import probe

    pr = probe(device)
    print(
        f"precision probe ({'x'.join(map(str, (256, 784, 512)))} matmul): fp32 {pr['fp32']:.0f} GFLOP/s, "
        f"bf16 {pr['bf16']:.0f} GFLOP/s ({pr['ratio']:.2f}x)"
    )

    def revival_epochs(monitor: bool, precision: str = "fp32") -> tuple[list[float], list[float]]:
        """Seconds of training and of monitoring (+ TensorBoard) in each epoch, timed apart."""
        g = torch.Generator(device=device).manual_seed(0)
        model = R.RBM(784, a.hidden).to(device).init_(g, data.all().mean(0))
        tr = RBMTrainer(model, cfg.replace(precision=precision), g)
        sub_t, sub_v = data.batch(slice(0, 2000)), data.batch(slice(n - 2000, n))
        display = sub_v[:100].clone()
        shown = L.LayerData(data, data, sub_t, sub_v, True, lambda x: x, lambda m: m.params()[0])
        t_tr, t_mon = [], []
        with tempfile.TemporaryDirectory() as tmp, runs.writer(Path(tmp)) as w:
            for e in range(a.epochs):
                sync(device)
                t = time.perf_counter()
                m = tr.train_epoch(data, e)
                float(m["recon_error"])  # what the epoch line reads
                sync(device)
                t_tr.append(time.perf_counter() - t)
                if monitor:
                    t = time.perf_counter()
                    m.update(
                        rbm_monitor(
                            model,
                            sub_t,
                            sub_v,
                            torch.Generator(device=device).manual_seed(e),
                            display,
                            100,
                            L.DISPLAY_STEPS,
                        )
                    )
                    display = m["chain"]
                    scalars = {
                        k: v
                        for k, v in m.items()
                        if k not in ("hidden_probs", "samples", "recon", "originals", "chain")
                    }
                    L.log_rbm_epoch(w, e + 1, host_floats(scalars), m, model, cfg.momentum_at(e), cfg.lr_at(e), shown)
                    w.flush()
                    sync(device)
                    t_mon.append(time.perf_counter() - t)
        return t_tr, t_mon

    rows = []
    t_cli = cli_epoch(a, 1 + a.epochs) if a.cli else None
    t_train = min(revival_epochs(False)[0])
    t_bf16 = min(revival_epochs(False, "bf16")[0]) if a.precision == "bf16" else None
    tt, tm = revival_epochs(True)
    t_mon = float(np.median(np.array(tt) + np.array(tm)))
    overhead = float(np.median(np.array(tm) / np.array(tt)))  # monitoring / training, epoch by epoch
    t_plain = min(plain_cd1(data.data, a.hidden, a.epochs, a.batch_size))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows += [
        ("FLOP floor (CD-1 flops at large-matmul speed)", floor),
        ("CD-1's matmuls alone, at batch shapes (nothing else)", t_mm),
        ("revival, training alone", t_train),
        *([("revival, training alone, bf16 matrix products", t_bf16)] if t_bf16 else []),
        ("revival, training + monitoring + TensorBoard", t_mon),
        ("plain PyTorch CD-1 loop", t_plain),
        *(
            [("revival pretrain-rbm, the CLI's whole epoch (monitoring, TensorBoard, checkpoints)", t_cli)]
            if t_cli
            else []
        ),
    ]
    t_sk = None
    if not a.no_sklearn:
        try:
            from sklearn.neural_network import BernoulliRBM

            x32 = binary.astype(np.float32)
            sk = BernoulliRBM(
                n_components=a.hidden, batch_size=a.batch_size, n_iter=a.epochs, learning_rate=0.1, random_state=0
            )
            t = time.perf_counter()
            sk.fit(x32)
            t_sk = (time.perf_counter() - t) / a.epochs  # its fit() gives no per-epoch times: the mean
            rows.append(("scikit-learn BernoulliRBM (CPU, mean)", t_sk))
        except ImportError:
            print("scikit-learn not installed: its row is skipped (pip install scikit-learn)")
    print("\n| what | s / epoch | vs FLOP floor |\n| --- | --- | --- |")
    for name, t in rows:
        print(f"| {name} | {t:.3f} | {floor / t:.0%} of floor speed |")
    print(f"\nlarge matmul: {gflops:.1f} GFLOP/s; CD-1 work per epoch: {10 * n * 784 * a.hidden / 1e9:.0f} GFLOP")
    print(
        f"training speed: {floor / t_train:.0%} of the FLOP floor (target >= 75%); the batch-shaped matmuls "
        f"alone reach {floor / t_mm:.0%} of it, revival runs at {t_mm / t_train:.0%} of that"
    )
    print(f"monitoring overhead: {overhead:+.1%} of the same epoch's training time (target <= 10%)")
    print(f"revival vs plain loop: {t_plain / t_train:.2f}x")
    if t_cli:
        print(
            f"the CLI's whole epoch vs the plain loop's: {t_cli / t_plain:.2f}x (target <= 1.1x); "
            f"vs revival's training alone: {t_cli / t_train:.2f}x"
        )
    if t_sk:
        print(f"revival vs scikit-learn: {t_sk / t_train:.2f}x faster (target >= 1.5x)")
    if t_bf16:
        print(f"bf16 vs fp32 training: {t_train / t_bf16:.2f}x faster")
    print(f"peak RSS after the revival runs: {rss_mb:.0f} MB (target < 1024 MB)")
    if a.scaling:
        scaling(data, device, gflops, pr)


def cli_epoch(a, epochs: int) -> float:
    """Seconds per whole epoch of ``revival pretrain-rbm`` as a user runs it (same size, batch and
    data; no AIS, no figures): the wall time of an ``epochs``-epoch run minus a 1-epoch run, over
    the difference, each the best of two alternating runs (start-up, data loading and the first
    epoch's warm-up cancel out)."""
    import os
    import subprocess

    best = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(2):
            for e in (1, epochs):
                t = time.perf_counter()
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "revival",
                        "pretrain-rbm",
                        "--hidden",
                        str(a.hidden),
                        "--batch-size",
                        str(a.batch_size),
                        "--epochs",
                        str(e),
                        "--ais-runs",
                        "0",
                        "--no-figures",
                        "--no-progress",
                        "--device",
                        a.device,
                        "--logdir",
                        tmp,
                        *(["--data-dir", a.data_dir] if a.data_dir else []),
                    ],
                    check=True,
                    capture_output=True,
                    cwd=Path(__file__).resolve().parents[1],
                    env={**os.environ, "REVIVAL_FIGURES": "0"},
                )
                best[e] = min(best.get(e, float("inf")), time.perf_counter() - t)
    return (best[epochs] - best[1]) / (epochs - 1)


def scaling(data, device, gflops, pr, n=10_000):
    """Seconds per epoch (scaled to 50,000 images) of revival's CD-1 trainer across hidden sizes,
    batch sizes and precisions, one warm-up epoch then the best of two, on ``n`` images."""
    sub = D.Visible(data.data[:n])
    print(
        "\n| hidden | batch | precision | s / epoch (50,000 images) | of the fp32 FLOP floor |\n| --- | --- | --- | --- | --- |"
    )
    for hidden in (100, 500, 2000):
        for batch in (10, 100, 1000):
            for precision in ("fp32", "bf16"):
                if precision == "bf16" and pr["ratio"] < 1.5:
                    print(f"| {hidden} | {batch} | bf16 | not run: bf16 is not fast here ({pr['ratio']:.2f}x) | - |")
                    continue
                cfg = RBMConfig(n_hidden=hidden, batch_size=batch, epochs=3, precision=precision)
                g = torch.Generator(device=device).manual_seed(0)
                tr = RBMTrainer(R.RBM(784, hidden).to(device).init_(g, sub.all().mean(0)), cfg, g)
                times = []
                for e in range(3):
                    sync(device)
                    t = time.perf_counter()
                    float(tr.train_epoch(sub, e)["recon_error"])
                    sync(device)
                    times.append(time.perf_counter() - t)
                sec = min(times[1:]) * 50_000 / n
                floor = 10 * 50_000 * 784 * hidden / (gflops * 1e9)
                print(f"| {hidden} | {batch} | {precision} | {sec:.3f} | {floor / sec:.0%} |")


if __name__ == "__main__":
    main()

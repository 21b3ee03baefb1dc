"""Benchmark: a deep Boltzmann machine's epochs against this machine's large-matmul rate.

    REVIVAL_DATA_DIR=~/data python scripts/bench_dbm.py [--rows 5000] [--threads 1] [--device cpu]

A DBM's joint epoch is matrix products: per minibatch of 100, 10 mean-field rounds over the batch,
5 Gibbs sweeps of the 100 persistent chains, the chains' probabilities and the gradients
(Salakhutdinov & Hinton 2009; the authors' dbm_mf.m). For the 784-500-1000 DBM of ``revival
pretrain-dbm``'s defaults it times, in one process, the joint epoch and the pretraining epochs
(the bottom RBM's doubled CD-1, the top RBM's CD-k at k = 1 and at k = 10, the ramp's last step)
on ``--rows`` MNIST training images, and prints for each: seconds per epoch scaled to 60,000
images, the GFLOP of its matrix products (counted as ``scripts/bench_floor.py`` counts them), the
rate they ran at, and that rate against a large (2048 x 2048) float32 product measured before and
after in the same process (``of floor``: 100% would be an epoch of nothing but large products).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_floor import FULL, counted, matmul_rate, profiled, timed  # noqa: E402

from revival import data as D  # noqa: E402
from revival import runs  # noqa: E402
from revival.config import DBMConfig  # noqa: E402
from revival.models import dbm as M  # noqa: E402
from revival.models import dbm_learn as L  # noqa: E402
from revival.training.dbm_train import joint_trainer  # noqa: E402


def joint(x, cfg: DBMConfig, device):
    g = torch.Generator(device=device).manual_seed(0)
    model = M.DBM(784, *cfg.layers).to(device)
    for w in model.ws:
        w.normal_(0, 0.01, generator=g)
    tr = joint_trainer(model, cfg, g, x)
    return lambda: tr.train_epoch(x, cfg.batch_size, cfg.lr, cfg.initial_momentum)


def pretrain(x, n_in: int, n_out: int, up: float, down: float, epoch: int, device):
    """One epoch of a pretraining RBM at pretraining epoch ``epoch`` (0-based: the ramp's k)."""
    g = torch.Generator(device=device).manual_seed(0)
    layer = L.PretrainLayer(n_in, n_out, g, device, up=up, down=down, cd_ramp=20, sample_input=True)
    return lambda: layer.train_epoch(x, epoch, 0.05, 100)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5_000, help="MNIST training images each epoch runs on")
    ap.add_argument("--repeats", type=int, default=2, help="timed epochs per loop (the fastest counts)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--data-dir", default=None)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    device = runs.resolve_device(a.device)
    images, _ = D.load_split("mnist", "train", a.data_dir)
    grey = torch.from_numpy(images[: a.rows]).to(device).float() / 255
    cfg = DBMConfig()
    with torch.no_grad():
        h1 = torch.sigmoid(2 * grey @ (torch.randn(784, 500, device=device) * 0.05))
    rate = matmul_rate(device)
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, {a.rows:,} images an epoch")
    loops = {
        "joint (784-500-1000, defaults)": joint(grey, cfg, device),
        "joint, the chains' states": joint(grey, cfg.replace(chain_probabilities=False), device),
        "pretrain bottom (doubled input, CD-1)": pretrain(grey, 784, 500, 2.0, 1.0, 0, device),
        "pretrain top, CD-1 (epochs 1-20)": pretrain(h1, 500, 1000, 1.0, 2.0, 0, device),
        "pretrain top, CD-10 (epochs 181-200)": pretrain(h1, 500, 1000, 1.0, 2.0, 199, device),
    }
    rows = []
    for name, fn in loops.items():
        with torch.no_grad():
            fn()  # warm-up
            g = counted(fn)
            shares = profiled(fn, device)
            dt = timed(fn, device, a.repeats)
        rows.append((name, dt, g, shares))
    rate = max(rate, matmul_rate(device))
    scale = FULL / a.rows
    print("\n| epoch | s / epoch (60,000 images) | GFLOP | GFLOP/s | of floor | matmul | random | element-wise |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, dt, g, sh in rows:
        cells = " | ".join(f"{100 * sh.get(c, 0):.0f}%" for c in ("matmul", "random", "elementwise"))
        print(f"| {name} | {dt * scale:.1f} | {g * scale:.0f} | {g / dt:.0f} | {100 * g / dt / rate:.0f}% | {cells} |")
    print(f"\nlarge float32 matmul, the faster of before and after: {rate:.0f} GFLOP/s")


if __name__ == "__main__":
    main()

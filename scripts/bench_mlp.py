"""Benchmark: one epoch of a 784-1024-1024-10 ReLU net with dropout (0.2 inputs, 0.5 hidden),
batch 100, on the 50,000-image MNIST training split.

    REVIVAL_DATA_DIR=~/data python scripts/bench_mlp.py [--epochs 3] [--device cuda]

Prints, measured in this run: seconds per epoch of revival's classifier trainer (training alone,
and with the per-epoch evaluation of train / valid / test error that ``compare-dropout`` does), and
of a plain hand-written PyTorch loop (nn.Sequential with nn.Dropout, torch.optim.SGD, the same
data on the device as uint8). Targets: revival within 10% of the plain loop; evaluation at most 25%
on top of training; the per-layer monitors (gradient norms every batch, activation mean, saturated
share and histograms on 1,000 validation images every epoch) at most 10% on top of an epoch.
Epochs with and without the gradient norms alternate, so drift hits both alike.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from revival import data as D  # noqa: E402
from revival.config import NetConfig  # noqa: E402
from revival.models.mlp import seeded_mlp  # noqa: E402
from revival.runs import resolve_device  # noqa: E402
from revival.training.train import ClassifierTrainer, evaluate_classifier, layer_monitor  # noqa: E402


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def plain_loop(x_u8, y, epochs, batch, device, lr=0.05, momentum=0.9, seed=0) -> list[float]:
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Dropout(0.2),
        nn.Linear(784, 1024),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(1024, 1024),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(1024, 10),
    ).to(device)
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum)
    loss_fn = nn.CrossEntropyLoss()
    times = []
    for _ in range(epochs):
        sync(device)
        t = time.perf_counter()
        perm = torch.randperm(len(y), device=device)
        for i in range(0, len(y), batch):
            idx = perm[i : i + batch]
            xb = x_u8[idx].float() / 255.0
            loss = loss_fn(net(xb), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sync(device)
        times.append(time.perf_counter() - t)
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--data-dir", default=None)
    a = ap.parse_args()
    device = resolve_device(a.device)
    tr_x, tr_y = D.load_split("mnist", "train", a.data_dir)
    va_x, va_y = D.load_split("mnist", "valid", a.data_dir)
    te_x, te_y = D.load_split("mnist", "test", a.data_dir)
    put = lambda x: D.Visible(torch.from_numpy(x).to(device), 1.0 / 255.0)  # noqa: E731
    lab = lambda y: torch.from_numpy(y.astype(np.int64)).to(device)  # noqa: E731
    x, y = put(tr_x), lab(tr_y)
    ev_x, ev_y = D.Visible(x.data[:10_000], x.scale), y[:10_000]
    valid, test = (put(va_x), lab(va_y)), (put(te_x), lab(te_y))
    print(
        f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, 784-1024-1024-10 ReLU, "
        f"dropout 0.2/0.5, batch 100, N={len(y)}, {a.epochs} epochs (fastest epoch; evaluation: its median ratio to the same epoch's training)"
    )

    model = seeded_mlp([784, 1024, 1024, 10], "relu", 0)
    model.input_dropout, model.hidden_dropout = 0.2, 0.5
    model.to(device)
    cfg = NetConfig(epochs=2 * a.epochs, batch_size=100, lr=0.05, initial_momentum=0.9, final_momentum=0.9)
    trainer = ClassifierTrainer(
        model, cfg, torch.Generator(device=device).manual_seed(0), torch.Generator(device=device).manual_seed(1)
    )
    import tempfile

    from torch.utils.tensorboard import SummaryWriter

    t_train, t_eval, t_grad, t_layers = [], [], [], []
    mon_x = valid[0].batch(slice(0, 1000))
    with tempfile.TemporaryDirectory() as tmp, SummaryWriter(tmp) as w:
        for e in range(2 * a.epochs):
            trainer.cfg = cfg.replace(monitor_layers=bool(e % 2))
            sync(device)
            t = time.perf_counter()
            m = trainer.train_epoch(x, y, e)
            float(m["loss"])
            sync(device)
            (t_grad if trainer.cfg.monitor_layers else t_train).append(time.perf_counter() - t)
            if trainer.cfg.monitor_layers:  # what compare-dropout does after an epoch with --monitor-layers
                t = time.perf_counter()
                scalars, acts = layer_monitor(model, mon_x)
                for k, v in {**scalars, **{f"g{i}": g for i, g in enumerate(m["grad_norm"].unbind())}}.items():
                    w.add_scalar(k, float(v), e)
                for k, act in enumerate(acts, 1):
                    w.add_histogram(f"activation/layer_{k}", act, e)
                w.flush()
                sync(device)
                t_layers.append(time.perf_counter() - t)
                continue
            t = time.perf_counter()
            ev = [evaluate_classifier(model, *s) for s in ((ev_x, ev_y), valid, test)]
            [float(v["error"]) for v in ev]
            sync(device)
            t_eval.append(time.perf_counter() - t)
    t_plain = min(plain_loop(x.data, y, a.epochs, 100, device))
    tr, evl = min(t_train), float(np.median(np.array(t_eval) / np.array(t_train))) * min(t_train)
    print("\n| what | s / epoch |\n| --- | --- |")
    print(f"| plain PyTorch loop (nn.Dropout, optim.SGD) | {t_plain:.3f} |")
    print(f"| revival, training alone | {tr:.3f} |")
    print(f"| revival, evaluation of train (10k) / valid / test | {evl:.3f} |")
    tg, tl = min(t_grad), float(np.median(t_layers))
    print(f"| revival, training with per-layer gradient norms | {tg:.3f} |")
    print(f"| per-layer activation monitors and histograms (1,000 images) | {tl:.3f} |")
    print(f"\nrevival training vs plain loop: {tr / t_plain - 1:+.1%} (target within +10%)")
    print(f"evaluation on top of training: {evl / tr:+.1%} (target <= 25%)")
    print(
        f"per-layer monitors on top of an epoch (training + evaluation): {(tg + evl + tl) / (tr + evl) - 1:+.1%} "
        "(target <= 10%)"
    )


if __name__ == "__main__":
    main()

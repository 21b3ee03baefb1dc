"""Benchmark: what a DBN layer and a pretrained fine-tuning epoch cost, through the library with a run folder.

    REVIVAL_DATA_DIR=~/data python scripts/bench_dbn.py [--epochs 3] [--rounds 2] [--device cuda]

Rows, measured back to back in this run on this machine; each is the wall time of a whole fit
divided by its epochs, the fastest over ``--rounds`` alternating rounds, with a
``revival.RunLogger`` so that monitoring, TensorBoard and checkpoints are included as a user of the
commands gets them:

- a 784-500 RBM on the 50,000 training images (grey levels), as ``pretrain-rbm --binarize none``;
- the next layer of a DBN, a 500-500 RBM on the first one's hidden probabilities (``pretrain-dbn``'s layer 2);
- 784-500-500-10 logistic nets on 10,000 labelled images: from random initialisation and from the
  two-layer stack (fine-tuning), which must cost the same.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import revival


def per_epoch(fit, epochs: int) -> float:
    t = time.perf_counter()
    fit()
    return (time.perf_counter() - t) / epochs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dataset", default="mnist")
    a = ap.parse_args()
    import torch

    from revival.threads import auto_threads

    torch.set_num_threads(auto_threads()[0])
    data = revival.load_dataset(a.dataset)
    x, n_lab = data.x_train, min(10_000, len(data.y_train))
    e = a.epochs
    quiet = dict(echo=lambda m: None)
    rbm_cfg = revival.RBMConfig(n_hidden=500, epochs=e, binarize="none", device=a.device)
    dbn, _ = revival.fit_dbn(x, revival.DBNConfig(layers=(500, 500), epochs=1, device=a.device))
    hidden = dbn.rbms[0].transform(x)  # layer 2's data: layer 1's hidden probabilities
    net_cfg = revival.NetConfig(layers=(500, 500), activation="logistic", lr=0.1, epochs=e, device=a.device)
    best = {}
    with tempfile.TemporaryDirectory() as tmp:
        rows = {
            f"784-500 RBM, {len(x):,} images (pretrain-rbm; DBN layer 1)": lambda: revival.fit_rbm(
                x, rbm_cfg, logger=revival.RunLogger(tmp, **quiet)
            ),
            "500-500 RBM on layer 1's probabilities (DBN layer 2)": lambda: revival.fit_rbm(
                hidden, rbm_cfg, logger=revival.RunLogger(tmp, **quiet)
            ),
            f"784-500-500-10 net, random init, {n_lab:,} images": lambda: revival.fit_net(
                x[:n_lab], data.y_train[:n_lab], net_cfg, logger=revival.RunLogger(tmp, **quiet)
            ),
            f"784-500-500-10 net, pretrained (fine-tuning), {n_lab:,} images": lambda: revival.fit_net(
                x[:n_lab], data.y_train[:n_lab], net_cfg, init=dbn, logger=revival.RunLogger(tmp, **quiet)
            ),
        }
        for _ in range(a.rounds):
            for name, fit in rows.items():
                best[name] = min(best.get(name, float("inf")), per_epoch(fit, e))
    names = list(best)
    ref = {0: names[0], 1: names[0], 2: names[2], 3: names[2]}
    print("| what | s / epoch (best) | ratio to its reference |\n| --- | --- | --- |")
    for i, name in enumerate(names):
        print(f"| {name} | {best[name]:.2f} | {best[name] / best[ref[i]]:.2f} |")
    print(
        "\nreferences: the RBM rows against the 784-500 RBM, the net rows against the random-init net; "
        f"layer 2 does {500 * 500 / (784 * 500):.2f}x the matrix-product work of layer 1. torch "
        f"{torch.__version__}, {torch.get_num_threads()} thread(s), device {a.device}"
    )


if __name__ == "__main__":
    main()

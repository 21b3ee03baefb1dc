"""Reduced precision where the hardware has it (``--precision bf16``): matrix products in bfloat16
with float32 master weights, velocities, statistics sums and evaluation, as mixed precision on
GPUs. Fast bfloat16 is a property of the machine, not of torch: a CPU with AVX-512 BF16 or AMX runs
a bf16 matmul several times faster than fp32, one with AVX2 only emulates it more than ten times
slower. So the choice is probed, not assumed: :func:`probe` times a small matmul in each precision
(well under a second) and :func:`resolve` falls back to fp32, saying why, unless bf16 is at least
``FAST_ENOUGH`` times faster there.
"""

from __future__ import annotations

import time

import torch

from revival.tables import PRECISIONS

FAST_ENOUGH = 1.5  # bf16 matmul speed / fp32 matmul speed below which bf16 is not worth its rounding
PROBE_SHAPE = (256, 784, 512)  # [B, 784] x [784, H]: the shape of the training products


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def probe(device, shape=PROBE_SHAPE, budget_s: float = 0.1) -> dict:
    """GFLOP/s of an ``shape`` matmul in float32 and in bfloat16 on ``device`` (best of a few
    timed rounds of about ``budget_s / 6`` seconds each per precision)."""
    m, k, n = shape
    out = {}
    for name, dt in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        try:
            a = torch.randn(m, k, device=device).to(dt)
            b = torch.randn(k, n, device=device).to(dt)
            a @ b
            _sync(device)
        except (RuntimeError, TypeError):  # no bf16 matmul on this device at all
            out[name] = 0.0
            continue
        best, reps = 0.0, 1
        for _ in range(3):
            _sync(device)
            t = time.perf_counter()
            for _ in range(reps):
                a @ b
            _sync(device)
            dt_s = time.perf_counter() - t
            best = max(best, 2 * m * k * n * reps / max(dt_s, 1e-9) / 1e9)
            reps = max(1, min(1000, int(reps * (budget_s / 6) / max(dt_s, 1e-6))))
        out[name] = best
    out["ratio"] = out["bf16"] / out["fp32"] if out["fp32"] > 0 else 0.0
    return out


def resolve(requested: str, device, echo=print, shape=None) -> tuple[str, dict]:
    """The precision a run uses and what decided it: fp32 as asked; bf16 only where :func:`probe`
    measures it at least ``FAST_ENOUGH`` times faster than fp32 at the run's own product shape
    ``(batch, n_in, n_out)`` (default ``PROBE_SHAPE``; small products gain nothing: measured in
    docs/benchmarks.md), else fp32 with one warning line."""
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}")
    if requested == "fp32":
        return "fp32", {"requested": "fp32"}
    shape = tuple(shape or PROBE_SHAPE)
    p = probe(torch.device(device)) if shape == PROBE_SHAPE else probe(torch.device(device), shape)
    info = {
        "requested": requested,
        "probe_shape": list(shape),
        "probe_gflops_fp32": round(p["fp32"], 1),
        "probe_gflops_bf16": round(p["bf16"], 1),
        "probe_ratio": round(p["ratio"], 2),
    }
    if p["ratio"] >= FAST_ENOUGH:
        return "bf16", info
    echo(
        f"warning: --precision bf16 falls back to fp32 on this {torch.device(device).type} device: a "
        f"{'x'.join(map(str, shape))} bf16 matmul runs at {p['bf16']:.0f} GFLOP/s against {p['fp32']:.0f} in fp32 "
        f"({p['ratio']:.2f}x, below the "
        f"{FAST_ENOUGH}x that pays for its rounding; bf16 is fast with AVX-512 BF16 / AMX or on a GPU)"
    )
    return "fp32", info


def lowp(precision: str):
    """The dtype of the matrix products: torch.bfloat16 for "bf16", None for full precision."""
    return torch.bfloat16 if precision == "bf16" else None

"""Is a difference real? McNemar's exact test and the paired standard error against hand-computed and
brute-force values; the SVM's (C, gamma) chosen on validation alone; every compare-dropout point saves
its test predictions, and the summary tests each pair with them."""

import json
import math

import numpy as np
import pytest

from helpers import invoke, only_run
from revival.models import baselines as K
from revival.reporting import significance as S
from revival.runs import load_predictions


def test_mcnemar_against_a_hand_computed_table():
    # b = 1, c = 9: P(X <= 1) for X ~ Binomial(10, 1/2) is (1 + 10) / 1024; two-sided, doubled
    assert S.mcnemar_p(1, 9) == pytest.approx(22 / 1024) == S.mcnemar_p(9, 1)
    assert S.mcnemar_p(0, 6) == pytest.approx(2 / 64)
    assert S.mcnemar_p(5, 5) == 1.0 and S.mcnemar_p(0, 0) == 1.0
    # 2 x 2 table of a made-up pair: A wrong and B right on 3 images, A right and B wrong on 12
    label = np.zeros(100, dtype=int)
    a, b = np.zeros(100, dtype=int), np.zeros(100, dtype=int)
    a[:3] = 1  # only A wrong
    b[3:15] = 1  # only B wrong
    a[15:20] = b[15:20] = 2  # both wrong
    d = S.paired_difference(a, b, label)
    assert (d["a_only_wrong"], d["b_only_wrong"]) == (3, 12)
    assert d["difference"] == pytest.approx(0.08 - 0.17)
    tail = sum(math.comb(15, k) for k in range(4)) / 2**15
    assert d["mcnemar_p"] == pytest.approx(2 * tail)


def test_mcnemar_and_the_standard_error_against_brute_force():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    label = rng.integers(0, 10, 5000)
    a = np.where(rng.random(5000) < 0.05, (label + 1) % 10, label)
    b = np.where(rng.random(5000) < 0.04, (label + 2) % 10, label)
    d = S.paired_difference(a, b, label)
    n_b, n_c = d["a_only_wrong"], d["b_only_wrong"]
    assert d["mcnemar_p"] == pytest.approx(stats.binomtest(n_b, n_b + n_c, 0.5).pvalue, rel=1e-9)
    per_image = (a != label).astype(float) - (b != label)
    assert d["difference"] == pytest.approx(per_image.mean())
    assert d["se"] == pytest.approx(per_image.std() / math.sqrt(len(label)))
    assert S.unpaired_se(0.03, 50_000, 0.03, 50_000) == pytest.approx(0.00108, abs=1e-5)  # R8's ~0.11 points
    assert S.seeds_se([1.0, 2.0, 3.0]) == pytest.approx(1 / math.sqrt(3)) and S.seeds_se([1.0]) is None
    with pytest.raises(ValueError, match="different test sets"):
        S.paired_difference(a[:10], b, label)


def test_the_svm_chooses_c_and_gamma_on_validation_alone():
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(2)

    def rings(n):  # two noisy concentric rings: the kernel width matters
        r = np.where(rng.random(n) < 0.5, 1.0, 2.2)
        t = rng.random(n) * 2 * np.pi
        x = np.stack([r * np.cos(t), r * np.sin(t)], 1) + rng.normal(0, 0.25, (n, 2))
        return x.astype(np.float32), (r > 1.5).astype(int)

    tr, va, te = rings(200), rings(200), rings(200)
    res = K.fit_svm(tr, va, te, tr, (1.0, 100.0), seed=0, gamma_factors=(0.01, 1.0, 30.0))
    grid = res["valid_error_by_C_gamma"]
    assert len(grid) == 6 and res["error/valid"] == min(grid.values())
    assert res["gamma"] == pytest.approx(res["gamma_factor"] * K.gamma_scale(tr[0]))
    assert len(res["test_pred"]) == 200 and res["error/test"] == pytest.approx(np.mean(res["test_pred"] != te[1]))
    flipped = K.fit_svm(tr, va, (te[0], 1 - te[1]), tr, (1.0, 100.0), seed=0, gamma_factors=(0.01, 1.0, 30.0))
    assert (flipped["C"], flipped["gamma_factor"]) == (res["C"], res["gamma_factor"])  # the test labels choose nothing


def test_every_point_saves_its_predictions_and_the_summary_tests_each_pair(tmp_path):
    pytest.importorskip("sklearn")
    r = invoke(
        "compare-dropout", "--dataset", "mnist-sample", "--train-size", 300, "--layers", 32, "--epochs", 2,
        "--mc-samples", 2, "--no-progress", "--variants", "baseline,dropout,svm-rbf", "--logdir", tmp_path,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    run = only_run(tmp_path, "compare-dropout")
    summary = json.loads((run / "summary.json").read_text())
    rows = {x["variant"]: x for x in summary["rows"]}
    for v in rows:
        pred, label = load_predictions(run / v)
        assert pred.dtype == np.int8 and len(pred) == len(label) == 1000
        assert np.mean(pred != label) == pytest.approx(rows[v]["test_error"], abs=1e-6)
    svm = rows["svm-rbf"]
    assert {"C", "gamma", "gamma_factor", "valid_error_by_C_gamma"} <= set(svm) and len(
        svm["valid_error_by_C_gamma"]
    ) == 9
    assert "gamma = " in r.output and "chosen on validation" in r.output
    pairs = {(d["a"], d["b"]): d for d in summary["differences"]}
    assert set(pairs) == {("baseline", "dropout"), ("baseline", "svm-rbf"), ("dropout", "svm-rbf")}
    d = pairs[("baseline", "svm-rbf")]
    assert d["difference"] == pytest.approx(rows["baseline"]["test_error"] - svm["test_error"], abs=1e-6)
    assert "is a difference real?" in (run / "summary.md").read_text() and "McNemar" in r.output

"""The classical baselines beside the nets: kNN against a brute-force loop, k and the SVM's C and
gamma chosen on validation, logistic regression's known error, and a clear error without
scikit-learn."""

import json
import sys

import numpy as np
import pytest
import torch

from conftest import full_mnist_root, needs_full_mnist
from helpers import TINY_SWEEP as TINY
from helpers import invoke, only_run
from revival import tables as T
from revival.models import baselines as K

# ------------------------------------------------------------------------- kNN


def brute_knn(tx, ty, q, k):
    out = []
    for x in q:
        d = ((tx - x) ** 2).sum(1)
        order = np.argsort(d, kind="stable")[:k]
        labels = ty[order]
        counts = np.bincount(labels, minlength=10)
        best = np.flatnonzero(counts == counts.max())
        # a tie goes to the tied class whose nearest member comes first
        out.append(next(lab for lab in labels if lab in best))
    return np.array(out)


@pytest.mark.parametrize("k", [1, 3, 4, 7])
def test_knn_matches_a_brute_force_loop(k):
    rng = np.random.default_rng(k)
    tx = rng.normal(size=(60, 12)).astype(np.float64)
    ty = rng.integers(0, 4, 60)
    q = rng.normal(size=(25, 12))
    nb = torch.from_numpy(ty)[K.nearest(torch.from_numpy(tx), torch.from_numpy(q), k, batch=7)]
    got = K.vote(nb, k, 10).numpy()
    np.testing.assert_array_equal(got, brute_knn(tx, ty, q, k))


def test_knn_vote_breaks_ties_by_the_nearest():
    lab = torch.tensor([[2, 5, 5, 2], [7, 1, 1, 7]])
    assert K.vote(lab, 4, 10).tolist() == [2, 7]
    assert K.vote(lab, 3, 10).tolist() == [5, 1]


def test_fit_knn_chooses_k_on_validation():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 5)) * 4

    def draw(n):
        y = rng.integers(0, 3, n)
        return torch.from_numpy(centres[y] + rng.normal(size=(n, 5))), torch.from_numpy(y)

    tr, va, te = draw(90), draw(60), draw(60)
    res = K.fit_knn(tr, va, te, (tr[0][:30], tr[1][:30]), (1, 3, 5, 200))
    assert res["k"] in (1, 3, 5)  # 200 > 90 training points is not tried
    assert res["error/valid"] == min(res["valid_error_by_k"].values())
    assert res["error/test"] < 0.1


def test_fit_svm_or_a_clear_error_without_scikit_learn():
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(-2, 1, (40, 4)), rng.normal(2, 1, (40, 4))]).astype(np.float32)
    y = np.repeat([0, 1], 40)
    res = K.fit_svm((x, y), (x, y), (x, y), (x, y), (1.0, 10.0), seed=0)
    assert res["C"] == 1.0 and res["error/test"] < 0.05  # the smaller C on a tie


def test_svm_without_scikit_learn_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    r = invoke("compare-dropout", *TINY, "--variants", "baseline,svm-rbf", "--logdir", tmp_path)
    assert r.exit_code == 2
    assert "revival[classic]" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "compare-dropout").exists()


@needs_full_mnist
def test_logistic_regression_reaches_known_error_on_full_mnist(tmp_path):
    """Softmax regression on 50,000 MNIST digits: about 7-8% test error after a few epochs."""
    r = invoke(
        "compare-dropout",
        "--data-dir",
        full_mnist_root(),
        "--variants",
        "logistic-regression",
        "--epochs",
        "3",
        "--lr",
        "0.1",
        "--mc-samples",
        "0",
        "--eval-train-size",
        "2000",
        "--no-progress",
        "--logdir",
        tmp_path,
        "--preset",
        "quick",
        "--train-size",
        "50000",
    )
    assert r.exit_code == 0, r.output
    row = json.loads((only_run(tmp_path, "compare-dropout") / "logistic-regression" / "result.json").read_text())
    assert 0.065 < row["test_error"] < 0.085, row["test_error"]


def test_the_svm_on_hand_made_features_runs_beside_the_pixel_svm(tmp_path):
    """The feature variants fit the same RBF SVM (C and gamma on validation) on the same 200 images,
    on deskewed pixels, on histograms of oriented gradients, or on both; each is its own point with
    its row, predictions and TensorBoard point, and the features change what the SVM sees."""
    pytest.importorskip("sklearn")
    pytest.importorskip("skimage")
    variants = "svm-rbf,deskew-svm,hog-svm,deskew-hog-svm,deskew-hog-iksvm"
    r = invoke("compare-dropout", *TINY, "--variants", variants, "--logdir", tmp_path)
    assert r.exit_code == 0, r.output
    run = only_run(tmp_path, "compare-dropout")
    rows = {v: json.loads((run / v / "result.json").read_text()) for v in variants.split(",")}
    for v, row in rows.items():
        assert row["variant"] == v and 0 < row["test_error"] < 0.6 and row["train_size"] == 200, row
        assert (run / v / "test_predictions.npz").is_file()
    assert len({row["test_error"] for row in rows.values()}) > 1  # not the pixels four times
    assert rows["hog-svm"]["gamma"] != rows["svm-rbf"]["gamma"]  # "scale" of 1,764 features, not 784 pixels
    assert "gamma" not in rows["deskew-hog-iksvm"] and rows["deskew-hog-iksvm"]["C"] in T.LINEAR_SVM_CS
    summary = (run / "summary.md").read_text()
    assert all(v in summary for v in variants.split(","))


def test_hog_variants_without_scikit_image_name_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "skimage", None)
    r = invoke("compare-dropout", *TINY, "--variants", "baseline,hog-svm", "--logdir", tmp_path)
    assert r.exit_code == 2 and "scikit-image" in r.output and "revival[classic]" in r.output, r.output
    assert not (tmp_path / "compare-dropout").exists()


def test_the_linear_svm_chooses_c_on_validation_and_reads_the_intersection_map():
    """On the intersection kernel's feature map a linear SVM separates what a threshold on one
    feature separates, which no linear rule on the raw pair (x, 1 - x) does better."""
    pytest.importorskip("sklearn")
    from revival import features as F

    rng = np.random.default_rng(0)
    x = rng.random((400, 2)).astype(np.float32)
    y = ((x[:, 0] > 0.3) & (x[:, 0] < 0.7)).astype(int)  # a band: not linear in x, linear in the map's levels
    phi = F.intersection_map(x, bins=10)
    split = lambda a: (a[:200], a[200:300], a[300:])  # noqa: E731
    (tr, va, te), (ytr, yva, yte) = split(phi), split(y)
    res = K.fit_linear_svm((tr, ytr), (va, yva), (te, yte), (tr, ytr), (0.1, 1.0, 10.0), seed=0)
    assert res["error/test"] < 0.08 and set(res["valid_error_by_C"]) == {"C=0.1", "C=1", "C=10"}
    raw = K.fit_linear_svm((x[:200], ytr), (x[200:300], yva), (x[300:], yte), (x[:200], ytr), (1.0,), seed=0)
    assert raw["error/test"] > 0.25  # the band defeats a linear rule on the raw values


def test_maji2009_refits_the_choice_on_training_and_validation_and_prints_the_papers(tmp_path):
    """The preset as a user runs it (on the 3,000 + 1,000 sample): the spatial-pyramid SVM and the
    neighbours on deskewed digits choose C and k on validation, then refit them on training and
    validation together (4,000 images) and predict the test digits again; the summary prints both
    errors beside the published ones."""
    pytest.importorskip("sklearn")
    r = invoke(
        "compare-dropout", "--preset", "maji2009", "--dataset", "mnist-sample", "--variants", "sphog-iksvm,deskew-knn",
        "--logdir", tmp_path, "--no-progress",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    run = only_run(tmp_path, "compare-dropout")
    sv, kn = (json.loads((run / v / "result.json").read_text()) for v in ("sphog-iksvm", "deskew-knn"))
    assert sv["train_size"] == 3000 and sv["train_size_full"] == 4000 and sv["C"] in T.LINEAR_SVM_CS
    assert kn["train_size_full"] == 4000 and kn["k"] in T.KNN_KS
    for row, v in ((sv, "sphog-iksvm"), (kn, "deskew-knn")):
        assert 0 <= row["test_error_full"] < 0.1 and (run / v / "full" / "test_predictions.npz").is_file()
    assert sv["test_error"] < kn["test_error"]  # the pyramid's histograms beat neighbours on deskewed pixels
    summary = (run / "summary.md").read_text()
    assert "0.79 (V)" in summary and "2.40 (S)" in summary and "classical models only" in summary
    assert f"sphog-iksvm {100 * sv['test_error_full']:.2f}" in summary


def test_a_refit_on_more_data_uses_the_choice_made_on_validation():
    """``full``: the chosen C (k) refitted on training + validation, the test split predicted again;
    the choice itself and the first test error do not move."""
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 5)).astype(np.float32)
    y = (x[:, 0] + 0.5 * rng.normal(size=400) > 0).astype(int)
    tr, va, te = (x[:200], y[:200]), (x[200:300], y[200:300]), (x[300:], y[300:])
    full = (x[:300], y[:300])
    for fit in (
        lambda f: K.fit_linear_svm(tr, va, te, tr, (0.01, 1.0), seed=0, full=f),
        lambda f: K.fit_svm(tr, va, te, tr, (1.0, 10.0), seed=0, full=f),
    ):
        plain, refit = fit(None), fit(full)
        assert "error/test_full" not in plain and plain["error/test"] == refit["error/test"]
        assert plain["C"] == refit["C"] and 0 <= refit["error/test_full"] < 0.35
    t = lambda a: (torch.from_numpy(a[0]), torch.from_numpy(a[1]))  # noqa: E731
    res = K.fit_knn(t(tr), t(va), t(te), t(tr), (1, 5), full=t(full))
    by_hand = K.vote(torch.from_numpy(full[1])[K.nearest(t(full)[0], t(te)[0], res["k"])], res["k"], 10)
    assert res["error/test_full"] == pytest.approx(float((by_hand != t(te)[1]).float().mean()))

"""Classical baselines on raw pixels, trained on the same examples as the nets they are compared
with: k-nearest neighbours (in torch, on the run's device) and an RBF-kernel SVM (scikit-learn,
the optional extra ``revival[classic]``). Logistic regression needs nothing here: it is an MLP
without hidden layers, trained by the same trainer as every net.

kNN picks k, the SVM the pair (C, gamma), on the validation split, as Larochelle et al. 2007 did for
their MNIST baselines (they tuned C and the kernel width), and each reports the error on every split
with its choice, and its predicted class of every test image.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch


@torch.no_grad()
def nearest(
    train_x: torch.Tensor, query_x: torch.Tensor, k: int, batch: int = 1000, check: Callable[[], None] | None = None
) -> torch.Tensor:
    """Indices [n_query, k] of each query's ``k`` nearest training rows by Euclidean distance,
    nearest first. ||q - t||^2 = ||q||^2 - 2 q.t + ||t||^2; the first term is the same for every
    t of one query, so the ranking uses ||t||^2 - 2 q.t (one matrix product per query batch)."""
    t_sq = (train_x * train_x).sum(1)
    out = []
    for i in range(0, len(query_x), batch):
        if check is not None:
            check()
        d = torch.addmm(t_sq, query_x[i : i + batch], train_x.t(), beta=1.0, alpha=-2.0)
        out.append(torch.topk(d, k, dim=1, largest=False, sorted=True).indices)
    return torch.cat(out) if out else torch.zeros((0, k), dtype=torch.long, device=train_x.device)


def vote(neighbour_labels: torch.Tensor, k: int, n_classes: int) -> torch.Tensor:
    """Majority vote of the first ``k`` columns of ``neighbour_labels`` [n, >=k] (nearest first);
    a tie goes to the tied class whose nearest member is closest."""
    lab = neighbour_labels[:, :k]
    n = lab.shape[0]
    counts = torch.zeros(n, n_classes, dtype=torch.long, device=lab.device).scatter_add_(1, lab, torch.ones_like(lab))
    ranks = torch.arange(k, device=lab.device).expand(n, k)
    first = torch.full((n, n_classes), k, dtype=torch.long, device=lab.device).scatter_reduce_(
        1, lab, ranks, reduce="amin"
    )
    return (counts * (k + 1) + (k - first)).argmax(1)


@torch.no_grad()
def fit_knn(
    train: tuple,
    valid: tuple,
    test: tuple,
    train_eval: tuple,
    ks,
    n_classes: int = 10,
    check: Callable[[], None] | None = None,
    full: tuple | None = None,
) -> dict:
    """kNN with k chosen from ``ks`` (those not above the training set's size) by validation error
    (the smaller k on a tie). With ``full`` (training + validation) the test split is classified a
    second time by the chosen k among its rows (``error/test_full``, ``test_pred_full``). Each split
    is ``(x [n, D] float, y [n] long)`` on one device. The
    training error is the resubstitution error on ``train_eval`` (a prefix of the training set,
    so each example counts itself among its neighbours: 0 at k = 1)."""
    (tx, ty), ks = train, [k for k in ks if k <= len(train[0])] or [1]
    k_max = max(ks)

    def errors(split, k_list):
        nb = ty[nearest(tx, split[0], k_max, check=check)]
        return {k: (vote(nb, k, n_classes) != split[1]).float().mean() for k in k_list}

    valid_err = errors(valid, ks)
    valid_vals = {k: float(v) for k, v in valid_err.items()}
    k = min(ks, key=lambda kk: (valid_vals[kk], kk))
    test_pred = vote(ty[nearest(tx, test[0], k, check=check)], k, n_classes)
    refit = {}
    if full is not None:
        pred_full = vote(full[1][nearest(full[0], test[0], k, check=check)], k, n_classes)
        refit = {
            "error/test_full": float((pred_full != test[1]).float().mean()),
            "test_pred_full": pred_full.cpu().numpy(),
        }
    return {
        "k": k,
        "valid_error_by_k": valid_vals,
        "error/valid": valid_vals[k],
        "error/test": float((test_pred != test[1]).float().mean()),
        "error/train": float(errors(train_eval, [k])[k]),
        "test_pred": test_pred.cpu().numpy(),
        **refit,
    }


def gamma_scale(x: np.ndarray) -> float:
    """scikit-learn's ``gamma="scale"``: 1 / (D * Var(x)) over all entries of the training rows."""
    var = float(np.var(x)) * x.shape[1]
    return 1.0 / var if var > 0 else 1.0


def fit_svm(
    train: tuple,
    valid: tuple,
    test: tuple,
    train_eval: tuple,
    cs,
    seed: int,
    check: Callable[[], None] | None = None,
    gamma_factors=(1.0,),
    full: tuple | None = None,
) -> dict:
    """An RBF-kernel SVM (scikit-learn's SVC, one-vs-one) for each C in ``cs`` and each kernel width
    gamma = f / (D * Var(x)) for f in ``gamma_factors`` (1: scikit-learn's "scale"), keeping the pair
    with the lowest validation error (on a tie the smaller C, then the gamma nearest "scale"). Only
    the validation split chooses; the test split is predicted once, by the chosen pair. Splits are
    ``(x [n, D] float32 numpy, y [n] numpy)``; ``check()`` runs between fits (a fit itself cannot be
    interrupted). With ``full`` (the training and validation sets together) the chosen pair, its
    gamma unchanged, is fitted again on it and predicts the test split once more
    (``error/test_full``, ``test_pred_full``): the papers' protocol of choosing on 50,000 / 10,000,
    then training on all 60,000."""
    from sklearn.svm import SVC  # optional: pip install 'revival[classic]'

    tx, ty = train
    scale = gamma_scale(tx)
    fit = lambda k, xy=train: SVC(C=k[0], kernel="rbf", gamma=k[1] * scale, random_state=seed).fit(*xy)  # noqa: E731
    res = _chosen_on_validation(
        [(c, f) for c in cs for f in gamma_factors],
        fit,
        lambda k: (k[0], abs(np.log(k[1]))),  # on a tie the smaller C, then the gamma nearest "scale"
        train,
        valid,
        test,
        train_eval,
        check,
        full,
    )
    (c, f), model = res.pop("key"), res.pop("model")
    return {
        "C": c,
        "gamma": f * scale,
        "gamma_factor": f,
        "valid_error_by_C_gamma": {f"C={cc:g}, gamma={ff:g}x scale": e for (cc, ff), e in res.pop("by_key").items()},
        **res,
        "support_vectors": int(getattr(model, "support_", np.zeros(0)).shape[0]),
    }


def fit_linear_svm(
    train: tuple,
    valid: tuple,
    test: tuple,
    train_eval: tuple,
    cs,
    seed: int,
    check: Callable[[], None] | None = None,
    full: tuple | None = None,
) -> dict:
    """A linear SVM (scikit-learn's LinearSVC, one-vs-rest, squared hinge loss) for each C in ``cs``,
    keeping the C of lowest validation error (on a tie the smaller); the test split is predicted once,
    by the chosen C. On an explicit additive feature map (:func:`revival.features.intersection_map`)
    it is the intersection-kernel SVM of Maji & Malik (2009) at a linear SVM's cost. Splits as
    :func:`fit_svm`'s, ``full`` too."""
    from sklearn.svm import LinearSVC  # optional: pip install 'revival[classic]'

    fit = lambda c, xy=train: LinearSVC(C=c, random_state=seed, max_iter=5000).fit(*xy)  # noqa: E731
    res = _chosen_on_validation(list(cs), fit, lambda c: (c,), train, valid, test, train_eval, check, full)
    res.pop("model")
    return {
        "C": res.pop("key"),
        "valid_error_by_C": {f"C={cc:g}": e for cc, e in res.pop("by_key").items()},
        **res,
    }


def _chosen_on_validation(keys, fit, tie, train, valid, test, train_eval, check, full=None) -> dict:
    """``fit(key)`` for every candidate ``key``, keeping the one of lowest validation error (on a tie
    the lowest ``tie(key)``); only the validation split chooses, and the test split is predicted
    once, by the chosen model. A training set of one class gets that class everywhere. With
    ``full``, ``fit(key, full)`` refits the chosen key there and predicts the test split again."""
    ty = train[1]
    best, by_key = None, {}
    for key in keys:
        if check is not None:
            check()
        model = _Constant(ty[0]) if len(np.unique(ty)) < 2 else fit(key)
        err = float(np.mean(model.predict(valid[0]) != valid[1]))
        by_key[key] = err
        if best is None or (err, *tie(key)) < best[0]:
            best = ((err, *tie(key)), key, model)
    _, key, model = best
    if check is not None:
        check()
    test_pred = model.predict(test[0])
    refit = {}
    if full is not None:
        if check is not None:
            check()
        full_model = _Constant(full[1][0]) if len(np.unique(full[1])) < 2 else fit(key, full)
        pred_full = np.asarray(full_model.predict(test[0]))
        refit = {"error/test_full": float(np.mean(pred_full != test[1])), "test_pred_full": pred_full}
    return {
        "key": key,
        "model": model,
        "by_key": by_key,
        "error/valid": by_key[key],
        "error/test": float(np.mean(test_pred != test[1])),
        "error/train": float(np.mean(model.predict(train_eval[0]) != train_eval[1])),
        "test_pred": np.asarray(test_pred),
        **refit,
    }


class _Constant:
    def __init__(self, label):
        self.label = label

    def predict(self, x):
        return np.full(len(x), self.label)

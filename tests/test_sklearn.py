"""revival.sklearn: the estimators pass scikit-learn's own checks, work in a Pipeline and in
GridSearchCV, and RBMTransformer stands in for BernoulliRBM."""

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.neural_network import BernoulliRBM  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

import revival  # noqa: E402
from revival.sklearn import DBNClassifier, DropoutNetClassifier, HOGTransformer, RBMTransformer  # noqa: E402

# Small settings so that scikit-learn's ~50 checks (each fitting several times) take seconds; the
# checks themselves are unchanged. None is expected to fail; a check scikit-learn itself skips for
# an estimator (its tags say the check does not apply) is listed here with the reason.
ESTIMATORS = [
    RBMTransformer(n_components=8, n_iter=5, random_state=0),
    DropoutNetClassifier((16,), epochs=10, batch_size=32, learning_rate=0.2, random_state=0),
    DBNClassifier((16,), pretrain_epochs=1, epochs=10, batch_size=32, learning_rate=0.5, random_state=0),
    HOGTransformer(deskew=True),  # rows of any width: a square image where they can be, else one row
]
NOT_APPLICABLE = {  # check name -> why it does not run here
    "check_array_api_input": "scikit-learn skips it unless SCIPY_ARRAY_API=1; the estimators take numpy "
    "arrays (torch runs inside) and do not claim array-API support",
    "check_classifier_data_not_an_array": "scikit-learn skips it when pandas is missing; pandas is no dependency "
    "of revival, so the pandas inputs are not checked here",
}


@pytest.mark.slow
@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_scikit_learns_own_checks_pass(estimator):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(estimator, on_fail=None)
    failed = [(r["check_name"], repr(r["exception"])[:300]) for r in results if r["status"] == "failed"]
    assert not failed, failed
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert skipped <= set(NOT_APPLICABLE), f"skipped without a stated reason: {skipped - set(NOT_APPLICABLE)}"
    assert len(results) > 40


@pytest.fixture(scope="module")
def digits():
    return revival.load_dataset("mnist-sample", train_size=1000)


def test_rbm_features_pipeline_as_scikit_learns_example(digits):
    """scikit-learn's "Restricted Boltzmann Machine features for digit classification": the same
    pipeline with RBMTransformer in BernoulliRBM's place, the same settings."""
    scores = {}
    for rbm in (
        RBMTransformer(n_components=100, learning_rate=0.06, n_iter=10, random_state=0),
        BernoulliRBM(n_components=100, learning_rate=0.06, n_iter=10, random_state=0),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = Pipeline([("rbm", rbm), ("logistic", LogisticRegression(C=100, max_iter=500))])
            model.fit(digits.x_train, digits.y_train)
        scores[type(rbm).__name__] = model.score(digits.x_test, digits.y_test)
    assert scores["RBMTransformer"] > 0.85 and scores["RBMTransformer"] > scores["BernoulliRBM"] - 0.03, scores


def test_the_classical_pipeline_hand_made_features_then_an_svm(digits):
    """Pipeline([("hog", HOGTransformer(deskew=True)), ("svm", SVC())]): the gradient histograms of
    deskewed digits make the same SVM far better than on the pixels (1,000 training digits), and the
    transformer is a function of each image alone (a row's features do not depend on the others)."""
    from sklearn.svm import SVC

    hand = Pipeline([("hog", HOGTransformer(deskew=True)), ("svm", SVC())]).fit(digits.x_train, digits.y_train)
    pixels = SVC().fit(digits.x_train, digits.y_train)
    err_hand, err_pixels = 1 - hand.score(digits.x_test, digits.y_test), 1 - pixels.score(digits.x_test, digits.y_test)
    assert err_hand < 0.8 * err_pixels, (err_hand, err_pixels)
    hog = hand.named_steps["hog"]
    assert hog.image_shape_ == (28, 28) and hog.get_feature_names_out()[0] == "hogtransformer0"
    x = digits.x_test[:5]
    assert np.array_equal(hog.transform(x)[2:3], hog.transform(x[2:3]))


def test_grid_search_over_the_rbms_size(digits):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search = GridSearchCV(
            Pipeline(
                [
                    ("rbm", RBMTransformer(n_iter=3, learning_rate=0.06, random_state=0)),
                    ("logistic", LogisticRegression(C=100, max_iter=200)),
                ]
            ),
            {"rbm__n_components": [10, 40]},
            cv=2,
        ).fit(digits.x_train[:400], digits.y_train[:400])
    assert search.best_params_["rbm__n_components"] in (10, 40)
    assert search.best_estimator_.named_steps["rbm"].components_.shape[0] == search.best_params_["rbm__n_components"]


def test_score_samples_is_the_pseudo_likelihood_by_brute_force(digits):
    """sum_i log P(v_i | v_-i) with P(v_i | v_-i) = sigmoid(F(v with i flipped) - F(v)): every unit
    flipped one at a time, each free energy computed from scratch."""
    est = RBMTransformer(n_components=6, n_iter=2, random_state=0).fit(digits.x_train[:200, :20])
    v = (digits.x_train[200:205, :20] > 0.5).astype(np.float64)
    rbm = est.rbm_.double()
    expected = []
    for row in v:
        flips = np.repeat(row[None], len(row), 0)
        flips[np.arange(len(row)), np.arange(len(row))] = 1 - row
        f, f_flip = rbm.free_energy(row[None])[0], rbm.free_energy(flips)
        expected.append(np.sum(-np.logaddexp(0, -(f_flip - f))))
    assert np.allclose(est.score_samples(v), expected, rtol=1e-9)


def test_partial_fit_and_gibbs(digits):
    est = RBMTransformer(n_components=12, random_state=1)
    for chunk in np.array_split(digits.x_train[:300], 3):
        est.partial_fit(chunk)
    assert len(est.history_["recon_error"]) == 3 and est.components_.shape == (12, 784)
    v = est.gibbs(digits.x_train[:4])
    assert v.dtype == bool and v.shape == (4, 784)
    assert est.transform(digits.x_test[:3].astype(np.float32)).dtype == np.float32


def test_classifiers_take_any_labels(digits):
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    net = DropoutNetClassifier((64,), epochs=5, random_state=0).fit(digits.x_train, names[digits.y_train])
    assert sorted(net.classes_) == sorted(names)
    assert net.score(digits.x_test, names[digits.y_test]) > 0.8
    dbn = DBNClassifier((32,), pretrain_epochs=1, epochs=5, random_state=0).fit(digits.x_train, digits.y_train + 10)
    assert list(dbn.classes_) == list(range(10, 20)) and dbn.score(digits.x_test, digits.y_test + 10) > 0.7
    p = dbn.predict_proba(digits.x_test[:3])
    assert p.shape == (3, 10) and np.allclose(p.sum(1), 1)

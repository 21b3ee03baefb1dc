"""scikit-learn estimators over the library's ``fit_*`` functions (``pip install 'revival[classic]'``).

- :class:`RBMTransformer`: Bernoulli RBM features, a drop-in for
  ``sklearn.neural_network.BernoulliRBM`` (same parameter names and defaults where they mean the
  same: PCD, ``learning_rate`` 0.1, ``batch_size`` 10, ``n_iter`` 10, weights N(0, 0.01^2), zero
  biases), with revival's trainer underneath (CD-k as an option, momentum, weight decay).
- :class:`DBNClassifier`: a deep belief net pretrained greedily on the inputs (Hinton, Osindero &
  Teh 2006), then fine-tuned as a logistic net by backpropagation (Hinton & Salakhutdinov 2006).
- :class:`DropoutNetClassifier`: a feed-forward net trained with dropout (Srivastava et al. 2014).
- :class:`HOGTransformer`: hand-made features, histograms of oriented gradients (Dalal & Triggs
  2005) of each image, optionally deskewed first (:mod:`revival.features`), so that
  ``Pipeline([("hog", HOGTransformer(deskew=True)), ("svm", SVC())])`` is the classical pipeline.

They follow scikit-learn's conventions (parameters stored as given, checked in ``fit``; learned
attributes end in ``_``; ``random_state`` fixes every draw) and pass its ``check_estimator``.
Inputs are float arrays, one example per row; the RBMs read them as Bernoulli probabilities, so
values in [0, 1] (e.g. pixel / 255) are what they model.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from revival import api, features, inputs
from revival.config import DBNConfig, NetConfig, RBMConfig
from revival.errors import Diverged
from revival.models import rbm as R
from revival.training.layerwise import RBMFit

FLOATS = (np.float64, np.float32)


def _layers(sizes) -> tuple:
    """``hidden_layer_sizes`` as scikit-learn's MLPClassifier takes it: an int (one hidden layer) or a sequence."""
    return (sizes,) if isinstance(sizes, (int, np.integer)) and not isinstance(sizes, bool) else tuple(sizes)


def _seed(random_state) -> int:
    """A seed for revival's generators: fixed by an int or RandomState, fresh for None."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


class RBMTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Bernoulli RBM trained by persistent (``persistent=True``, the default, as scikit-learn's) or
    plain contrastive divergence; ``transform`` gives P(h = 1 | v), the features.

    Parameters shared with ``BernoulliRBM``: ``n_components``, ``learning_rate``, ``batch_size``,
    ``n_iter``, ``verbose``, ``random_state``. revival's own: ``cd_k`` (Gibbs steps per update),
    ``persistent``, ``momentum`` and ``weight_decay`` (0, as scikit-learn), ``device``.

    The algorithm is BernoulliRBM's: weights N(0, 0.01^2) and zero biases, the data's values as
    Bernoulli probabilities (no binarisation), one Gibbs sweep per update of a persistent chain of
    ``batch_size`` *hidden* states started at 0, statistics from hidden probabilities and sampled
    visibles, the mean gradient times ``learning_rate``. What differs on purpose: the examples are
    shuffled every pass (BernoulliRBM takes them in the same order each time), the arithmetic is
    float32 (float64 there), and the random numbers are torch's. Measured (400 mnist-sample digits,
    32 components, 20 passes, LogisticRegression(C=10) on the features, random_state 0-4): test
    accuracy 0.691 against BernoulliRBM's 0.712 (0.639 before the chain held hidden states as
    BernoulliRBM's does); on 3,000 digits 0.839 against 0.846.

    Attributes: ``components_`` [n_components, n_features], ``intercept_hidden_``,
    ``intercept_visible_``, ``h_samples_`` (the persistent chains' hidden states, PCD only, as
    scikit-learn's), ``n_features_in_``, ``rbm_`` (the
    :class:`revival.models.rbm.RBM`), ``history_`` (reconstruction error per epoch).
    """

    def __init__(
        self,
        n_components=256,
        *,
        learning_rate=0.1,
        batch_size=10,
        n_iter=10,
        verbose=0,
        random_state=None,
        cd_k=1,
        persistent=True,
        momentum=0.0,
        weight_decay=0.0,
        device="cpu",
    ):
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.verbose = verbose
        self.random_state = random_state
        self.cd_k = cd_k
        self.persistent = persistent
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.device = device

    def _config(self, seed: int) -> RBMConfig:
        return RBMConfig(
            n_hidden=self.n_components,
            epochs=self.n_iter,
            batch_size=self.batch_size,
            lr=self.learning_rate,
            momentum=self.momentum,
            weight_decay=self.weight_decay,
            cd_k=self.cd_k,
            persistent=self.persistent,
            init_std=0.01,
            visible_bias_init="zero",
            binarize="none",
            seed=seed,
            device=self.device,
        )

    @property
    def _n_features_out(self):
        """The feature names' count (``get_feature_names_out``: rbmtransformer0, ...), so that
        ``set_output(transform="pandas")`` works as with ``BernoulliRBM``."""
        return self.components_.shape[0]

    def _publish(self):
        W, b, c = self.rbm_.params()
        self.components_ = W.cpu().numpy().astype(np.float64)
        self.intercept_hidden_ = c.cpu().numpy().astype(np.float64)
        self.intercept_visible_ = b.cpu().numpy().astype(np.float64)
        chain = self._trainer.chain
        self.h_samples_ = None if chain is None else chain.cpu().numpy()
        return self

    def fit(self, X, y=None):
        """Train for ``n_iter`` passes over ``X`` [n_samples, n_features]; returns self."""
        X = validate_data(self, X, dtype=FLOATS)
        cfg = self._config(_seed(self.random_state))
        self._epoch = 0
        data = self._start(X, cfg)
        for _ in range(cfg.epochs):
            self._one_pass(data)
        return self._publish()

    def partial_fit(self, X, y=None):
        """One pass over ``X`` (the model made on the first call); returns self."""
        first = not hasattr(self, "rbm_")
        X = validate_data(self, X, dtype=FLOATS, reset=first)
        cfg = self._config(_seed(self.random_state) if first else self._seed)
        if first:
            self._epoch = 0
            data = self._start(X, cfg)
        else:
            data = inputs.visible(X, self.rbm_.weight.device, what="X")
        self._one_pass(data)
        return self._publish()

    def _start(self, X, cfg: RBMConfig):
        """A new RBM fit for ``X`` (the loop every RBM fit runs, :class:`revival.training.layerwise.RBMFit`,
        a pass at a time); returns ``X`` on the device as the trainer reads it."""
        dev = inputs.device_of(cfg.device, "RBMTransformer")
        self._seed = cfg.seed
        data = inputs.visible(X, dev, what="X")
        # PCD's chain holds hidden states, as BernoulliRBM's h_samples_ (the features differ: R.cd_statistics)
        self._fit = RBMFit(data, cfg.replace(pcd_chain="hidden"), cfg.seed, dev)
        self.rbm_, self._trainer = self._fit.model, self._fit.trainer
        self._gibbs_gen = torch.Generator(device=dev).manual_seed(cfg.seed + 1)
        self.history_ = {"recon_error": []}
        return data

    def _one_pass(self, data):
        self._fit.data = data  # partial_fit: this call's rows
        try:
            self._fit.end_epoch(self._epoch, self._fit.train(self._epoch, lambda: None))
        except Diverged as e:  # scikit-learn's convention: a ValueError
            raise ValueError(f"the RBM diverged at pass {self._epoch + 1} ({e}); lower learning_rate") from None
        self._epoch += 1
        err = self._fit.last["recon_error"]
        self.history_["recon_error"].append(err)
        if self.verbose:
            print(f"[RBMTransformer] pass {self._epoch}, reconstruction error {err:.3f}")

    def transform(self, X):
        """P(h = 1 | v) of each row, [n_samples, n_components], in ``X``'s float dtype."""
        check_is_fitted(self, "rbm_")
        X = validate_data(self, X, dtype=FLOATS, reset=False)
        return self.rbm_.transform(X.astype(np.float32)).astype(X.dtype)

    def score_samples(self, X):
        """Pseudo-log-likelihood of each row, sum_i log P(v_i | v_-i) (Besag 1975), computed over
        every unit, so it is deterministic; scikit-learn's ``BernoulliRBM`` estimates the same
        quantity from one randomly flipped unit per row (D log P(v_i | v_-i))."""
        check_is_fitted(self, "rbm_")
        X = validate_data(self, X, dtype=FLOATS, reset=False)
        W, b, c = (t.double() for t in self.rbm_.params())  # float64: a row's score never depends on its batch
        v = torch.as_tensor(X, dtype=torch.float64, device=W.device)
        out = []
        rows = max(1, 2**22 // max(1, W.shape[0] * W.shape[1]))  # rows a chunk, to bound the [rows, D, H] tensor
        with torch.no_grad():
            for i in range(0, len(v), rows):
                vb = v[i : i + rows]
                x = torch.addmm(c, vb, W.t())  # [n, H]
                sign = 1.0 - 2.0 * vb  # [n, D]: the change of each unit when flipped
                fe = R.free_energy_given_input(vb, x, b)  # F(v)
                flipped = x[:, None, :] + sign[:, :, None] * W.t()[None]  # [n, D, H]: hidden input of each flip
                fe_flip = (
                    fe[:, None]
                    - sign * b
                    - torch.nn.functional.softplus(flipped).sum(-1)
                    + torch.nn.functional.softplus(x).sum(-1)[:, None]
                )
                out.append(torch.nn.functional.logsigmoid(fe_flip - fe[:, None]).sum(1))
        return torch.cat(out).cpu().numpy()

    def gibbs(self, v):
        """One Gibbs step from the visible rows ``v``: h ~ P(h | v), then v' ~ P(v | h); returns v' (bool)."""
        check_is_fitted(self, "rbm_")
        v = validate_data(self, v, dtype=FLOATS, reset=False)
        W, b, c = self.rbm_.params()
        with torch.no_grad():
            t = torch.as_tensor(v, dtype=torch.float32, device=W.device)
            h = R.sample_bernoulli(R.hidden_probs(t, W, c), self._gibbs_gen)
            out = R.sample_bernoulli(R.visible_mean(h, W, b), self._gibbs_gen)
        return out.cpu().numpy().astype(bool)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


class HOGTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Histograms of oriented gradients (Dalal & Triggs 2005) of each row read as an image:
    :func:`revival.features.hog` at cells of ``cells`` pixels with ``orientations`` unsigned bins,
    each cell's histogram L2-normalised, after :func:`revival.features.deskew` (LeCun et al. 1998's
    moment deskewing) when ``deskew``. Needs scikit-image (``pip install 'revival[classic]'``).

    ``image_shape`` (height, width) says how a row is an image; by default a row of d values is a
    square image when d is a square (784 -> 28 x 28, MNIST), else a single row of d pixels. ``fit``
    learns nothing from the data: it records the shape (``image_shape_``) and the number of features.
    Values are used as they are (grey levels in [0, 1], or 0-255: the histograms are normalised)."""

    def __init__(
        self,
        cells=features.HOG_CELLS,
        orientations: int = features.HOG_ORIENTATIONS,
        deskew: bool = False,
        image_shape=None,
    ):
        self.cells = cells
        self.orientations = orientations
        self.deskew = deskew
        self.image_shape = image_shape

    def _shape(self, d: int) -> tuple[int, int]:
        if self.image_shape is not None:
            h, w = (int(v) for v in self.image_shape)
            if h * w != d:
                raise ValueError(f"image_shape {self.image_shape} has {h * w} pixels but X has {d} features")
            return h, w
        side = int(round(d**0.5))
        return (side, side) if side * side == d else (1, d)

    def _features(self, X: np.ndarray) -> np.ndarray:
        images = X.reshape(len(X), *self.image_shape_)
        if self.deskew:
            images = features.deskew(images)
        return features.hog(images, tuple(self.cells), self.orientations).astype(X.dtype, copy=False)

    def fit(self, X, y=None):
        cells = (self.cells,) if isinstance(self.cells, (int, np.integer)) else tuple(self.cells)
        if not cells or any(not isinstance(c, (int, np.integer)) or c < 1 for c in cells):
            raise ValueError(f"cells must be positive pixel counts, got {self.cells!r}")
        if not isinstance(self.orientations, (int, np.integer)) or self.orientations < 1:
            raise ValueError(f"orientations must be a positive integer, got {self.orientations!r}")
        X = validate_data(self, X, dtype=FLOATS)
        self.image_shape_ = self._shape(X.shape[1])
        self._n_features_out = self._features(np.zeros((1, X.shape[1]), dtype=X.dtype)).shape[1]
        return self

    def transform(self, X):
        check_is_fitted(self, "image_shape_")
        X = validate_data(self, X, dtype=FLOATS, reset=False)
        return self._features(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.requires_fit = True
        return tags


class _NetClassifier(ClassifierMixin, BaseEstimator):
    """What both classifiers share: labels encoded to 0..C-1, predictions decoded."""

    def _targets(self, X, y):
        X, y = validate_data(self, X, y, dtype=FLOATS)
        check_classification_targets(y)
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the data, but the data "
                f"contain only one class: {self.classes_[0]!r}"
            )
        return X, y_enc.astype(np.int64)

    def predict_proba(self, X):
        """Class probabilities of the deterministic (weight-scaled) net, columns in ``classes_`` order."""
        check_is_fitted(self, "net_")
        X = validate_data(self, X, dtype=FLOATS, reset=False)
        p = self.net_.predict_proba(X.astype(np.float32)).astype(np.float64)[:, : len(self.classes_)]
        return p / p.sum(1, keepdims=True)

    def predict(self, X):
        """The most probable class of each row (a label from ``classes_``)."""
        p = self.predict_proba(X)  # first: an unfitted estimator raises NotFittedError there
        return self.classes_[p.argmax(1)]


class DropoutNetClassifier(_NetClassifier):
    """A feed-forward net trained by SGD with momentum and dropout: ``input_dropout`` of the inputs
    and ``hidden_dropout`` of each hidden layer's units are dropped at every update (Hinton et al.
    2012, Srivastava et al. 2014), the full net weight-scaled at prediction. 0 and 0 is a plain net.
    ``epochs``, ``learning_rate``, ``batch_size``, ``weight_decay``, ``max_norm``: as compare-dropout's
    options; the momentum rises from 0.5 to 0.9 over the first 10 epochs. Attributes: ``net_`` (the
    :class:`revival.models.mlp.MLP`), ``classes_``, ``history_``."""

    def __init__(
        self,
        hidden_layer_sizes=(1024, 1024),
        *,
        activation="relu",
        input_dropout=0.2,
        hidden_dropout=0.5,
        dropout_scaling="inverted",
        weight_decay=0.0,
        max_norm=None,
        learning_rate=0.05,
        epochs=50,
        batch_size=100,
        random_state=None,
        device="cpu",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.input_dropout = input_dropout
        self.hidden_dropout = hidden_dropout
        self.dropout_scaling = dropout_scaling
        self.weight_decay = weight_decay
        self.max_norm = max_norm
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.random_state = random_state
        self.device = device

    def _net_config(self, seed: int, **more) -> NetConfig:
        return NetConfig(
            layers=_layers(self.hidden_layer_sizes),
            activation=self.activation,
            input_dropout=self.input_dropout,
            hidden_dropout=self.hidden_dropout,
            dropout_scaling=self.dropout_scaling,
            weight_decay=self.weight_decay,
            max_norm=self.max_norm,
            lr=self.learning_rate,
            epochs=self.epochs,
            batch_size=self.batch_size,
            eval_every=self.epochs,
            seed=seed,
            device=self.device,
            **more,
        )

    def fit(self, X, y):
        X, y = self._targets(X, y)
        self.net_, self.history_ = api.fit_net(X, y, self._net_config(_seed(self.random_state)))
        return self


class DBNClassifier(_NetClassifier):
    """A deep belief net of ``hidden_layer_sizes`` pretrained on ``X`` without labels (CD-1,
    ``pretrain_epochs`` a layer at ``pretrain_learning_rate``), then fine-tuned with its labels as a
    logistic net (``epochs`` at ``learning_rate``; the first ``freeze_pretrained_epochs`` train the
    new output layer alone, as Hinton & Salakhutdinov's code does for 5); ``hidden_dropout`` > 0
    fine-tunes with dropout (Srivastava et al. 2014, section 6.1.4). Defaults: the 2006 paper's
    784-500-500-2000 net, on a shorter schedule. Attributes: ``dbn_``, ``net_``, ``classes_``,
    ``history_``."""

    def __init__(
        self,
        hidden_layer_sizes=(500, 500, 2000),
        *,
        pretrain_epochs=10,
        pretrain_learning_rate=0.1,
        learning_rate=0.1,
        epochs=50,
        batch_size=100,
        freeze_pretrained_epochs=0,
        input_dropout=0.0,
        hidden_dropout=0.0,
        random_state=None,
        device="cpu",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.pretrain_epochs = pretrain_epochs
        self.pretrain_learning_rate = pretrain_learning_rate
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.freeze_pretrained_epochs = freeze_pretrained_epochs
        self.input_dropout = input_dropout
        self.hidden_dropout = hidden_dropout
        self.random_state = random_state
        self.device = device

    def fit(self, X, y):
        X, y = self._targets(X, y)
        seed = _seed(self.random_state)
        layers = _layers(self.hidden_layer_sizes)
        self.dbn_, pre = api.fit_dbn(
            X,
            DBNConfig(
                layers=layers,
                epochs=self.pretrain_epochs,
                lr=self.pretrain_learning_rate,
                batch_size=self.batch_size,
                seed=seed,
                device=self.device,
            ),
        )
        cfg = NetConfig(
            layers=layers,
            activation="logistic",
            input_dropout=self.input_dropout,
            hidden_dropout=self.hidden_dropout,
            dropout_scaling="paper",
            lr=self.learning_rate,
            epochs=self.epochs,
            batch_size=self.batch_size,
            eval_every=self.epochs,
            freeze_pretrained_epochs=min(self.freeze_pretrained_epochs, self.epochs),
            seed=seed,
            device=self.device,
        )
        self.net_, hist = api.fit_net(X, y, cfg, init=self.dbn_)
        self.history_ = {"pretrain": pre["layers"], **hist}
        return self

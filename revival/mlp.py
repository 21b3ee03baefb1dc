"""Feed-forward nets with dropout (Srivastava et al. 2014; Hinton et al. 2012).

Dropout here is *inverted*: during training each kept unit is divided by its retain probability
1 - p, so the expected input of every unit is what it is without dropout. Test-time "weight
scaling" (multiplying outgoing weights by 1 - p, the paper's rule) is then the plain deterministic
forward pass: the two are the same network. Monte-Carlo inference instead averages the softmax
output over k sampled masks (the paper's Figure 11 comparison).

Gaussian dropout (section 10) multiplies each unit by r ~ N(1, sigma^2) with sigma^2 = p / (1 - p),
which has the same mean and variance as inverted Bernoulli dropout with drop probability p; it
needs no scaling at test time.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {"relu": torch.relu, "logistic": torch.sigmoid, "tanh": torch.tanh, "linear": lambda x: x}
DROPOUT_TYPES = ("bernoulli", "gaussian")


def bernoulli_dropout(x, p: float, generator):
    """Inverted Bernoulli dropout: x * m / (1 - p), m_i ~ Bernoulli(1 - p), so E[out] = x."""
    keep = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype) >= p
    return x * keep / (1.0 - p)


def gaussian_dropout(x, p: float, generator):
    """Multiplicative Gaussian noise: x * r, r ~ N(1, p / (1 - p)) (Srivastava et al. 2014, sec. 10)."""
    sigma = (p / (1.0 - p)) ** 0.5
    return x * (1.0 + sigma * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype))


def max_norm_(weight: torch.Tensor, c: float):
    """Project every unit's incoming weight vector (a row of ``weight``) onto the ball ||w||_2 <= c
    (Srivastava et al. 2014, sec. 5.1)."""
    with torch.no_grad():
        weight.renorm_(2, 0, c)


class MLP(nn.Module):
    """``784 -> hidden... -> 10`` with one activation for hidden layers and logits out.

    ``input_dropout`` and ``hidden_dropout`` are *drop* probabilities of the inputs and of each
    hidden layer's outputs; ``dropout_type`` picks Bernoulli or Gaussian noise.
    """

    def __init__(self, sizes, activation="relu", input_dropout=0.0, hidden_dropout=0.0, dropout_type="bernoulli"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}")
        if dropout_type not in DROPOUT_TYPES:
            raise ValueError(f"dropout_type must be one of {DROPOUT_TYPES}")
        for p in (input_dropout, hidden_dropout):
            if not 0.0 <= p < 1.0:
                raise ValueError("dropout probabilities must lie in [0, 1)")
        self.sizes = list(sizes)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(self.sizes[:-1], self.sizes[1:]))
        self.activation = activation
        self.input_dropout, self.hidden_dropout, self.dropout_type = input_dropout, hidden_dropout, dropout_type

    def _drop(self, x, p, generator):
        if p <= 0:
            return x
        return (bernoulli_dropout if self.dropout_type == "bernoulli" else gaussian_dropout)(x, p, generator)

    def forward(self, x, generator: torch.Generator | None = None, stochastic: bool = False):
        """Logits. ``stochastic=True`` samples dropout noise from ``generator`` (training and
        Monte-Carlo inference); otherwise the deterministic weight-scaled net."""
        act = ACTIVATIONS[self.activation]
        if stochastic:
            x = self._drop(x, self.input_dropout, generator)
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = act(x)
                if stochastic:
                    x = self._drop(x, self.hidden_dropout, generator)
        return x

    def weights(self):
        return [l.weight for l in self.layers]

    def biases(self):
        return [l.bias for l in self.layers]


def loss_fn(logits, y, kind: str = "cross-entropy", reduction: str = "mean"):
    """Cross-entropy of the softmax, or squared error between the softmax and the one-hot target."""
    if kind == "cross-entropy":
        return F.cross_entropy(logits, y, reduction=reduction)
    err = ((torch.softmax(logits, 1) - F.one_hot(y, logits.shape[1]).to(logits.dtype)) ** 2).sum(1)
    return err.mean() if reduction == "mean" else err.sum()


@torch.no_grad()
def mc_predict(model: MLP, x, k: int, generator, check=None) -> torch.Tensor:
    """Monte-Carlo model averaging: the mean softmax over ``k`` dropout masks (``check()`` before each)."""
    probs = torch.zeros(x.shape[0], model.sizes[-1], device=x.device)
    for _ in range(k):
        if check is not None:
            check()
        probs += torch.softmax(model(x, generator, stochastic=True), 1)
    return probs / k

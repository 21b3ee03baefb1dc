"""Deep belief nets: a stack of RBMs trained greedily, one layer at a time, each on the hidden
activities of the layer below (Hinton, Osindero & Teh 2006; Hinton & Salakhutdinov 2006).

Layer k's hidden units are layer k+1's visible units. The stack is used three ways:

- **up pass** (recognition): h_k = P(h_k = 1 | h_{k-1}) = sigmoid(c_k + W_k h_{k-1}), h_0 = v; the
  probabilities (or samples of them) are the training data of the next layer;
- **generation**: alternating Gibbs sampling in the top RBM, then one **down pass**
  E[h_{k-1} | h_k] = sigmoid(b_k + W_k^T h_k) through the lower layers' generative weights
  (Hinton et al. 2006, section 3);
- **initialisation of a feed-forward net**: hidden layer k gets W_k and c_k, so before fine-tuning
  the net's hidden activities *are* the up-pass probabilities (Hinton & Salakhutdinov 2006).

The RBM math itself lives in :mod:`revival.models.rbm`; nothing here logs or touches files.
"""

from __future__ import annotations

import torch
from torch import nn

from revival.models import rbm as R

FORMAT = "revival.dbn.v1"


def up_pass(
    x: torch.Tensor, rbms: list[R.RBM], generator: torch.Generator | None = None, sample: bool = False
) -> torch.Tensor:
    """The top layer's activities for the rows of ``x``: P(h_k | h_{k-1}) layer after layer
    (``sample=True``: each layer's probabilities replaced by a Bernoulli sample before going up)."""
    h = x
    for rbm in rbms:
        W, _, c = rbm.params()
        h = R.hidden_probs(h, W, c)
        if sample:
            h = R.sample_bernoulli(h, generator)
    return h


def down_pass(h: torch.Tensor, rbms: list[R.RBM]) -> torch.Tensor:
    """E[v | h_K] by the generative weights from the top layer ``h`` down to the data: each step
    the mean of the layer below given the one above (probabilities, no sampling)."""
    for rbm in reversed(rbms):
        W, b, _ = rbm.params()
        h = R.visible_mean(h, W, b, rbm.visible_type)
    return h


@torch.no_grad()
def sample(rbms: list[R.RBM], n: int, gibbs_steps: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` fantasies of the DBN as data-space means: ``gibbs_steps`` alternating Gibbs sweeps in
    the top RBM started from Bernoulli(sigmoid(b_top)) noise, then one down pass."""
    top = rbms[-1]
    W, b, c = top.params()
    v = R.noise_chains(n, b, top.visible_type, generator)
    for _ in range(gibbs_steps):
        h = R.sample_bernoulli(R.hidden_probs(v, W, c), generator)
        v = R.sample_visible(R.visible_mean(h, W, b, top.visible_type), top.visible_type, generator)
    h = R.sample_bernoulli(R.hidden_probs(v, W, c), generator)
    return down_pass(R.visible_mean(h, W, b, top.visible_type), rbms[:-1])


def project_filters(rbms: list[R.RBM]) -> torch.Tensor:
    """The top layer's units seen in data space: W_K W_{K-1} ... W_1, a row per unit, i.e. each
    unit's linear combination of layer-1 filters weighted by its connections (the usual picture of
    higher-layer features; a linear view of a non-linear unit)."""
    out = rbms[-1].params()[0]
    for rbm in reversed(rbms[:-1]):
        out = out @ rbm.params()[0]
    return out


def checkpoint_dict(rbms: list[R.RBM], configs: list[dict], preprocessing: dict) -> dict:
    """The public format ``revival.dbn.v1``: ``layers`` (``revival.rbm.v1`` dicts, bottom first) and
    the ``preprocessing`` of the data layer 1 was trained on."""
    return {
        "format": FORMAT,
        "layers": [R.checkpoint_dict(r, c) for r, c in zip(rbms, configs)],
        "preprocessing": preprocessing,
    }


def from_checkpoint(ck, where: str = "checkpoint") -> list[R.RBM]:
    """The layers of a ``revival.dbn.v1`` dict, or of a single ``revival.rbm.v1`` (a one-layer
    stack), or of a plain list of them; ValueError naming the layer when one is wrong or when
    adjacent layers do not fit (layer k's hidden units must be layer k+1's visible units)."""
    if isinstance(ck, dict) and ck.get("format") == FORMAT:
        layers = ck.get("layers")
        if not isinstance(layers, list) or not layers:
            raise ValueError(f"{where}: a {FORMAT} checkpoint needs a non-empty list 'layers'")
    elif isinstance(ck, dict) and ck.get("format") == R.FORMAT:
        layers = [ck]
    elif isinstance(ck, list) and ck:
        layers = ck
    else:
        raise ValueError(f"{where}: not a revival RBM or DBN checkpoint (expected format {R.FORMAT!r} or {FORMAT!r})")
    rbms = [R.from_checkpoint(c, f"{where} layer {i + 1}") for i, c in enumerate(layers)]
    for i in range(1, len(rbms)):
        if rbms[i].n_visible != rbms[i - 1].n_hidden:
            raise ValueError(
                f"{where}: layer {i + 1} has {rbms[i].n_visible} visible units but layer {i} has "
                f"{rbms[i - 1].n_hidden} hidden units"
            )
    return rbms


def init_mlp_(model, rbms: list[R.RBM], input_scale: list[float] | None = None):
    """Copy the stack into the first hidden layers of an :class:`~revival.models.mlp.MLP`: layer k gets
    the RBM's ``weight`` [n_hidden, n_in] and ``hidden_bias`` (the pretrained initialisation of
    Hinton & Salakhutdinov 2006). ValueError if the stack is deeper than the net or a shape differs.

    ``input_scale[k]`` multiplies layer k's copied weights (biases unchanged). Dropout fine-tuning in
    the papers' formulation (no rescaling in training) feeds a layer q times the input its RBM saw,
    q its input's retain probability; Srivastava et al. 2014, section 5.2, therefore scale the
    pretrained weights up by 1/q, so that E[W (m * x)] = W x, the RBM's up pass (:func:`dropout_scales`)."""
    if len(rbms) > len(model.layers) - 1:
        raise ValueError(f"the checkpoint has {len(rbms)} layers but the net has only {len(model.layers) - 1} hidden")
    with torch.no_grad():
        for i, rbm in enumerate(rbms):
            lin = model.layers[i]
            w, _, c = rbm.params()
            if tuple(w.shape) != tuple(lin.weight.shape):
                raise ValueError(
                    f"checkpoint layer {i + 1} is {w.shape[1]}->{w.shape[0]} but the net's layer "
                    f"{i + 1} is {lin.weight.shape[1]}->{lin.weight.shape[0]} (check --layers)"
                )
            lin.weight.copy_(w if input_scale is None else w * input_scale[i])
            lin.bias.copy_(c)


def init_from_stack(
    model,
    rbms: list[R.RBM],
    n_hidden: int,
    input_dropout: float,
    hidden_dropout: float,
    dropout_type: str,
    dropout_scaling: str,
) -> list[float] | None:
    """Start ``model``'s first hidden layers from ``rbms`` (:func:`init_mlp_`), scaled by
    :func:`dropout_scales` when the net trains with the papers' Bernoulli dropout; returns the
    scales used (None: copied as they are)."""
    scale = papers_dropout_scales(
        min(len(rbms), n_hidden), input_dropout, hidden_dropout, dropout_type, dropout_scaling
    )
    init_mlp_(model, rbms[:n_hidden], scale)
    return scale


def papers_dropout_scales(
    n_layers: int, input_dropout: float, hidden_dropout: float, dropout_type: str, dropout_scaling: str
) -> list[float] | None:
    """:func:`dropout_scales` where the net trains with the papers' Bernoulli dropout (no rescaling in
    training) and drops something; None (copy the pretrained weights as they are) otherwise."""
    if dropout_scaling == "paper" and dropout_type == "bernoulli" and (input_dropout > 0 or hidden_dropout > 0):
        return dropout_scales(n_layers, input_dropout, hidden_dropout)
    return None


def dropout_scales(n_layers: int, input_dropout: float, hidden_dropout: float) -> list[float]:
    """The factors 1/q_k of :func:`init_mlp_` for the papers' dropout: q_1 = 1 - input_dropout for
    the first layer (its input is the image), q_k = 1 - hidden_dropout above (Srivastava et al.
    2014, section 5.2: "the weights are scaled up by 1/p", p there the retain probability)."""
    return [1.0 / (1.0 - (input_dropout if k == 0 else hidden_dropout)) for k in range(n_layers)]


class DBN(nn.Module):
    """A trained stack as one object (the library API's model): ``rbms`` bottom first, with the
    methods a notebook needs. The functions above do the work."""

    def __init__(self, rbms: list[R.RBM], configs: list[dict] | None = None, preprocessing: dict | None = None):
        super().__init__()
        self.rbms = nn.ModuleList(rbms)
        self.configs = configs or [{} for _ in rbms]
        self.preprocessing = preprocessing or {}

    @property
    def layers(self) -> list[int]:
        """The sizes, data first: [n_visible, n_hidden_1, ...]."""
        return [self.rbms[0].n_visible, *(r.n_hidden for r in self.rbms)]

    @torch.no_grad()
    def transform(self, x):
        """The top layer's up-pass probabilities of each row of ``x`` (:func:`up_pass`)."""
        return R._like(x, up_pass(R._tensor(x, self.rbms[0].weight), list(self.rbms)))

    @torch.no_grad()
    def sample(self, n: int = 100, gibbs_steps: int = 1000, seed: int = 0):
        """``n`` fantasies in data space (:func:`sample`), as a numpy array."""
        R.sampling_args(n, gibbs_steps, seed)
        g = torch.Generator(device=self.rbms[0].weight.device).manual_seed(seed)
        return sample(list(self.rbms), n, gibbs_steps, g).cpu().numpy()

    def checkpoint(self) -> dict:
        """The public format ``revival.dbn.v1``."""
        return checkpoint_dict(list(self.rbms), self.configs, self.preprocessing)

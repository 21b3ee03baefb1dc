"""Deep Boltzmann machine math against brute-force enumeration on tiny models: the paper's two hidden
layers (6-4-3) and deeper ones (5-3-3-2, 4-3-2-2-2), with the energy written out here independently."""

import itertools

import pytest
import torch

import revival
from revival.models import dbm as M
from revival.models import dbm_learn as L

SHAPES = [(6, 4, 3), (5, 3, 3, 2), (4, 3, 2, 2, 2)]


def tiny(seed=0, scale=1.0, n=(6, 4, 3)):
    """Random (ws, bs) of a DBM with layer sizes ``n``, float64."""
    g = torch.Generator().manual_seed(seed)
    ws = [torch.randn(n[l + 1], n[l], generator=g, dtype=torch.float64) * scale for l in range(len(n) - 1)]
    bs = [torch.randn(k, generator=g, dtype=torch.float64) * scale for k in n]
    return ws, bs


def states(n):
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)), dtype=torch.float64)


def same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def joint(ws, bs):
    """Every joint state, cut into layers, with its unnormalised log-probability -E, summed term by term:
    -E = sum over layers and units of bias x state + sum over connected pairs of state x weight x state."""
    sizes = [len(b) for b in bs]
    full = states(sum(sizes))
    xs = list(full.split(sizes, dim=1))
    neg_e = torch.zeros(len(full), dtype=torch.float64)
    for x, b in zip(xs, bs):
        for i in range(len(b)):
            neg_e += x[:, i] * b[i]
    for l, w in enumerate(ws):
        for j, i in itertools.product(range(w.shape[0]), range(w.shape[1])):
            neg_e += xs[l + 1][:, j] * w[j, i] * xs[l][:, i]
    return xs, neg_e


@pytest.mark.parametrize("shape", SHAPES)
def test_energy_exact_log_z_and_log_p_match_brute_force(shape):
    ws, bs = tiny(0, 1.0, shape)
    xs, neg_e = joint(ws, bs)
    assert torch.allclose(-M.energy(xs, ws, bs), neg_e, atol=1e-10)
    log_z = torch.logsumexp(neg_e, 0)
    assert torch.allclose(M.exact_log_z(ws, bs), log_z, atol=1e-10)
    vs = states(shape[0])
    brute = torch.stack([torch.logsumexp(neg_e[(xs[0] == x).all(1)], 0) for x in vs]) - log_z
    exact = M.exact_log_prob(vs, ws, bs)
    assert torch.allclose(exact, brute, atol=1e-10)
    assert abs(float(torch.logsumexp(exact, 0))) < 1e-10  # a distribution over v


def test_exact_refuses_too_many_odd_units():
    ws, bs = tiny(0, 1.0, (3, 12, 2, 9))  # 21 odd units, though the first hidden layer alone has 12
    with pytest.raises(ValueError, match="2\\^21 states of the odd layers"):
        M.exact_log_z(ws, bs)


@pytest.mark.parametrize("shape", SHAPES)
def test_mean_field_reaches_its_fixed_point(shape):
    ws, bs = tiny(1, 1.0, shape)
    v = states(shape[0])
    mus = M.mean_field(v, ws, bs, steps=500, tol=1e-13)
    xs = [v, *mus, None]
    for l in range(1, len(shape)):
        z = bs[l] + xs[l - 1] @ ws[l - 1].t() + (xs[l + 1] @ ws[l] if l < len(ws) else 0)
        assert torch.allclose(mus[l - 1], torch.sigmoid(z), atol=1e-10)


@pytest.mark.parametrize("shape", SHAPES)
def test_the_variational_bound_lies_below_log_p_and_meets_it_when_the_posterior_factorises(shape):
    ws, bs = tiny(2, 1.0, shape)
    vs = states(shape[0])
    lz = M.exact_log_z(ws, bs)
    exact = M.exact_log_prob(vs, ws, bs, log_z=lz)
    bound = M.variational_bound(vs, M.mean_field(vs, ws, bs, steps=200), ws, bs, log_z=lz)
    assert (bound <= exact + 1e-10).all() and (exact - bound).max() > 1e-3
    # every layer above the first cut off: p(h | v) = p(h1 | v) p(h2) .. p(hL), which q can be exactly
    cut = [ws[0], *(torch.zeros_like(w) for w in ws[1:])]
    bound = M.variational_bound(vs, M.mean_field(vs, cut, bs, steps=50), cut, bs, log_z=M.exact_log_z(cut, bs))
    assert torch.allclose(bound, M.exact_log_prob(vs, cut, bs), atol=1e-10)


@pytest.mark.parametrize("shape", SHAPES)
def test_pcd_statistics_approach_the_exact_expectations(shape):
    """After 100 sweeps the Gibbs chains' pair statistics are the model's (so the sweep samples the DBM),
    and pcd_statistics subtracts them from the mean-field data statistics."""
    ws, bs = tiny(3, 0.5, shape)
    xs, neg_e = joint(ws, bs)
    prob = torch.softmax(neg_e, 0)
    g = torch.Generator().manual_seed(0)
    chain = M.noise_chains(40_000, ws, bs, generator=g)
    for _ in range(100):  # mixed
        chain = M.gibbs_sweep(chain, ws, bs, generator=g)
    data = states(shape[0])[:8]
    grads, _ = L.pcd_statistics(data, chain, ws, bs, generator=g, mf_steps=100)
    assert len(grads) == 2 * len(shape) - 1
    pos = [data, *M.mean_field(data, ws, bs, steps=100)]
    for l in range(len(ws)):
        model_pair = torch.einsum("s,si,sj->ij", prob, xs[l + 1], xs[l])  # <x_l x_(l-1)^T> under the model
        assert torch.allclose(pos[l + 1].t() @ pos[l] / 8 - grads[l], model_pair, atol=0.02)
    for l in range(len(shape)):
        assert torch.allclose(pos[l].mean(0) - grads[len(ws) + l], prob @ xs[l], atol=0.02)


def test_checkpoint_round_trip(tmp_path):

    for shape in SHAPES[:2]:
        ws, bs = tiny(4, 1.0, shape)
        model = M.from_params([w.float() for w in ws], [b.float() for b in bs])
        back = M.from_checkpoint(model.checkpoint())
        assert same(model, back) and back.layers == list(shape)
        revival.save(model, tmp_path / "dbm.pt")
        assert same(model, revival.load(tmp_path / "dbm.pt"))
    assert list(M.DBM(6, 4, 3).state_dict()) == ["w1", "w2", "b", "c1", "c2"]  # the v1 keys of two layers
    with pytest.raises(ValueError, match="not a revival DBM checkpoint"):
        M.from_checkpoint({"format": "revival.rbm.v1"})
    with pytest.raises(ValueError, match="at least two hidden layers"):
        M.DBM(6, 4)


def test_pretraining_doubles_the_input_of_the_bottom_rbm_both_ways_in_the_middle_and_the_hidden_of_the_top():
    assert L.pretraining_factors(2) == [(2.0, 1.0), (1.0, 2.0)]
    assert L.pretraining_factors(4) == [(2.0, 1.0), (2.0, 2.0), (2.0, 2.0), (1.0, 2.0)]
    ws, bs = tiny(9, 1.0, (5, 3, 3, 2))
    rbms = [(w, bs[l], bs[l + 1] + 1.0) for l, w in enumerate(ws)]  # each RBM's hidden bias 1 above the next's visible
    model = L.compose(rbms)
    ws, bs = model.params()
    assert all(torch.equal(w, r[0]) for w, r in zip(ws, rbms)) and torch.equal(bs[0], rbms[0][1])
    # a middle layer's bias is the sum of its two RBMs' (dbm_mf.m: hidbiases + visbiases_l2)
    assert torch.allclose(bs[1], rbms[0][2] + rbms[1][1]) and torch.equal(bs[3], rbms[2][2])


def test_doubled_cd_k_written_out_from_the_same_draws():
    """The modified RBM's CD-k against the authors' rbm.m / rbm_l2.m written out by hand: the doubled side's
    whole input (bias too) doubled, a sampled reconstruction, the last hidden side as probabilities."""
    from revival.models import rbm as R

    ws, bs = tiny(5)
    w, b, c = ws[0], bs[0], bs[1]
    v = (torch.rand(16, 6, generator=torch.Generator().manual_seed(1)) < 0.5).double()
    for up, down, k in ((1.0, 1.0, 1), (2.0, 1.0, 1), (1.0, 2.0, 3)):
        ours = L.doubled_cd_statistics(v, w, b, c, torch.Generator().manual_seed(7), up=up, down=down, k=k)
        g = torch.Generator().manual_seed(7)
        h0 = torch.sigmoid(up * (v @ w.t() + c))
        h = h0
        for _ in range(k):
            hs = R.sample_bernoulli(h, g)
            vk = R.sample_bernoulli(torch.sigmoid(down * (hs @ w + b)), g)
            h = torch.sigmoid(up * (vk @ w.t() + c))
        want = ((h0.t() @ v - h.t() @ vk) / 16, (v - vk).mean(0), (h0 - h).mean(0))
        assert all(torch.allclose(x, y) for x, y in zip(ours, want)), (up, down, k)
        assert set(vk.unique().tolist()) <= {0.0, 1.0}  # the reconstruction is sampled, as rbm.m l.79


def test_the_top_rbm_ramps_cd_k_and_divides_its_rate():
    """rbm_l2.m l.75-79: CD = ceil(epoch/20), the rate 0.05 / CD, epochs counted from 1."""
    assert [L.cd_steps(e, 20) for e in (0, 19, 20, 39, 40, 199)] == [1, 1, 2, 2, 3, 10]
    assert L.cd_steps(150, 0) == 1
    x = (torch.rand(40, 6, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    calls = []
    orig = L.doubled_cd_statistics

    def spy(*a, **kw):
        calls.append(a[7] if len(a) > 7 else kw.get("k", 1))
        return orig(*a, **kw)

    layer = L.PretrainLayer(6, 4, torch.Generator().manual_seed(0), "cpu", down=2.0, cd_ramp=20, init_std=0.01)
    L.doubled_cd_statistics = spy
    try:
        before = layer.w.clone()
        layer.train_epoch(x, 45, 0.05, 40)  # epoch 46: k = 3
    finally:
        L.doubled_cd_statistics = orig
    assert calls == [3]
    # the step: lr / k times the statistics of the same draws (one batch of 40, momentum's first step)
    g = torch.Generator().manual_seed(0)
    torch.randn(4, 6, generator=g)  # the layer's initial weights
    idx = torch.randperm(40, generator=g)
    gw, _, _ = orig(x[idx], before, torch.zeros(6), torch.zeros(4), g, 1.0, 2.0, 3)
    assert torch.allclose(layer.w - before, 0.05 / 3 * (gw - 2e-4 * before), atol=1e-7)


def test_the_joint_rate_anneals_after_every_update_to_its_floor():
    """dbm_mf.m l.110-112: epsilon = max(epsilon / 1.000015, 1e-4) before every update."""
    ws, bs = tiny(2)
    model = M.from_params([w.float() for w in ws], [b.float() for b in bs])
    tr = L.DBMTrainer(model, 4, torch.Generator().manual_seed(0), 1e-3, 0.0, 2, 1, anneal=1.000015, floor=1e-4)
    assert tr.rate(1e-3) == pytest.approx(1e-3 / 1.000015)
    tr.updates = 10_000
    assert tr.rate(1e-3) == pytest.approx(1e-3 / 1.000015**10_001)
    tr.updates = 200_000  # past ln(10) / ln(1.000015) = 153,500 updates: the floor
    assert tr.rate(1e-3) == 1e-4
    x = (torch.rand(30, 6, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    tr.updates = 0
    tr.train_epoch(x, 10, 1e-3, 0.5)
    assert tr.updates == 3 and tr.state()["updates"] == 3


@pytest.mark.parametrize("start", ["uniform", "data", "biases"])
def test_chains_start_where_the_config_says(start):
    ws, bs = tiny(3)
    ws, bs = [w.float() for w in ws], [b.float() for b in bs]
    data = torch.ones(5, 6)
    xs = L.chains_from(start, 200, ws, bs, torch.Generator().manual_seed(0), data)
    assert [x.shape for x in xs] == [(200, 6), (200, 4), (200, 3)]
    assert all(set(x.unique().tolist()) <= {0.0, 1.0} for x in xs)
    if start == "data":
        assert torch.equal(xs[0], torch.ones(200, 6))
    if start == "uniform":  # dbm_mf.m l.85: round(rand(100, numdims)); passed up with doubled weights
        assert 0.4 < xs[0].mean() < 0.6
        g = torch.Generator().manual_seed(0)
        v = torch.bernoulli(torch.full((200, 6), 0.5), generator=g)
        h1 = torch.bernoulli(torch.sigmoid(bs[1] + 2 * v @ ws[0].t()), generator=g)
        assert torch.equal(xs[0], v) and torch.equal(xs[1], h1)
    with pytest.raises(ValueError, match="unknown chain start"):
        L.chains_from("noise", 2, ws, bs, torch.Generator())


@pytest.mark.parametrize("shape", SHAPES[:2])
def test_statistics_from_the_chains_probabilities_keep_the_visible_pair_exact(shape):
    """Taking P(h_1 | v, h_2) for the sampled h_1 (dbm_mf.m l.176-181) is a conditional expectation: the
    <h_1 v^T> and <h_1> statistics stay unbiased, and their spread over chains shrinks."""
    ws, bs = tiny(3, 0.5, shape)
    xs, neg_e = joint(ws, bs)
    prob = torch.softmax(neg_e, 0)
    g = torch.Generator().manual_seed(0)
    chain = M.noise_chains(40_000, ws, bs, generator=g)
    for _ in range(100):
        chain = M.gibbs_sweep(chain, ws, bs, generator=g)
    probs = L.chain_probabilities(chain, ws, bs)
    exact = torch.einsum("s,si,sj->ij", prob, xs[1], xs[0])
    assert torch.allclose(probs[1].t() @ probs[0] / 40_000, exact, atol=0.02)
    assert torch.allclose(probs[1].mean(0), prob @ xs[1], atol=0.02)
    assert torch.equal(probs[0], chain[0])  # v stays a state
    assert probs[1].var(0).sum() < chain[1].var(0).sum()


def test_sparsity_terms_are_the_released_codes_for_two_layers():
    """dbm_mf.m l.205-223 written out for a two-layer DBM: running means start at the targets, damping 0.9,
    cost 1e-3; W1 gets s1 <v>^T, W2 gets s2 <h1>^T + <h2> s1^T, the biases s1 and s2."""
    g = torch.Generator().manual_seed(0)
    means = [torch.rand(6, generator=g), torch.rand(4, generator=g), torch.rand(3, generator=g)]
    running = [torch.full((4,), 0.2), torch.full((3,), 0.1)]
    dw, dc = L.sparsity_penalty(running, means, (0.2, 0.1), 1e-3, 0.9)
    q1, q2 = 0.9 * 0.2 + 0.1 * means[1], 0.9 * 0.1 + 0.1 * means[2]
    s1, s2 = 1e-3 * (q1 - 0.2), 1e-3 * (q2 - 0.1)
    assert torch.allclose(running[0], q1) and torch.allclose(running[1], q2)
    assert torch.allclose(dw[0], torch.outer(s1, means[0]))
    assert torch.allclose(dw[1], torch.outer(s2, means[1]) + torch.outer(means[2], s1))
    assert torch.allclose(dc[0], s1) and torch.allclose(dc[1], s2)
    # a layer without a target gets nothing of its own
    dw, dc = L.sparsity_penalty([torch.zeros(4), torch.zeros(3)], means, (None, 0.1), 1e-3, 0.9)
    assert not dc[0].any() and not dw[0].any()


def prototypes(seed=0):
    """Four random 10-pixel prototypes with 5% of pixels flipped: ``draw(n)`` gives n rows. The data's own
    entropy bounds any model's average log p(v): log 4 for the prototype, 10 H(0.05) for the flips,
    about -3.38 nats (an untrained model gives -10 log 2 = -6.93)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    protos = rng.random((4, 10)) < 0.5

    def draw(n):
        x = protos[rng.integers(0, 4, n)]
        return (x ^ (rng.random(x.shape) < 0.05)).astype(np.float32)

    return draw


TINY_FIT = dict(
    pretrain_epochs=20,
    pretrain_top_epochs=20,
    pretrain_lr=0.1,
    lr=0.002,
    final_momentum=0.5,
    batch_size=20,
    binarize="none",
    device="cpu",
)


@pytest.mark.parametrize("layers", [(8, 4), (8, 4, 2)])
def test_fit_dbm_learns_a_tiny_distribution_by_the_exact_likelihood(layers):
    """revival.fit_dbm on the prototypes (:func:`prototypes`) must raise the exact average log p(v) of
    held-out samples far above the untrained model's, by pretraining alone and by PCD on top of it: the
    paper's two hidden layers, and three (the middle RBM doubled both ways; log p(v) enumerates h1 and h3)."""
    from revival.config import DBMConfig

    draw = prototypes()
    train, test = draw(2000), torch.tensor(draw(500), dtype=torch.float64)
    cfg = DBMConfig(layers=layers, **TINY_FIT)

    def exact(model):
        return float(M.exact_log_prob(test, *M.as_double(model).params()).mean())

    pre, _ = revival.fit_dbm(train, cfg.replace(epochs=0))
    trained, hist = revival.fit_dbm(train, cfg.replace(epochs=20), x_valid=draw(200))
    # PCD alone, from RBMs that never trained (their small random weights composed)
    pcd, _ = revival.fit_dbm(train, cfg.replace(pretrain_epochs=0, pretrain_top_epochs=0, epochs=40))
    assert len(hist["bound_train"]) == 20 and "bound_valid" in hist
    assert set(hist["pretrain"]) == {"bottom", *(f"middle{k}" for k in range(2, len(layers))), "top"}
    assert all(len(h["recon_error"]) == 20 for h in hist["pretrain"].values())
    assert {f"varying_h{k}" for k in range(1, len(layers) + 1)} <= set(hist) and trained.layers == [10, *layers]
    # the data's entropy bounds log p(v) at -3.38 nats; untrained, -6.93
    got = exact(pre), exact(trained), exact(pcd)
    assert got[0] > -3.65 and got[1] > got[0] - 0.05 and got[1] > -3.65 and got[2] > -5.5, got


@pytest.mark.parametrize("shape,base", [((10, 8, 5), False), ((10, 8, 5), True), ((8, 6, 5, 4), True)])
def test_ais_log_z_of_a_dbm_agrees_with_enumeration(shape, base):
    """AIS over the odd layers with the even ones summed out, from the uniform base or one with visible
    base rates, lands within its own +-3 s.e. interval, and within 0.05 nats, of the exact log Z
    (10-8-5; 8-6-5-4, where the chains run over h1 and h3)."""
    params = tiny(3, 1.0, shape)
    exact = float(M.exact_log_z(*params))
    b_a = torch.linspace(-1, 1, shape[0], dtype=torch.float64) if base else None
    est = M.ais_log_z(
        *params,
        base_bias=b_a,
        n_runs=200,
        betas=torch.linspace(0, 1, 1000, dtype=torch.float64),
        generator=torch.Generator().manual_seed(0),
    )
    assert est.log_z_lower <= exact <= est.log_z_upper and abs(est.log_z - exact) < 0.05
    assert est.ess > 50


def test_the_test_bound_is_below_the_exact_log_probability():
    params = tiny(4, 1.0)
    model = M.from_params(*params)
    v = states(6)
    lz = float(M.exact_log_z(*params))
    bound = M.bound_per_row(v, model, lz, mf_steps=30)
    exact = M.exact_log_prob(v, *params, log_z=torch.tensor(lz, dtype=torch.float64))
    assert bound.shape == (64,) and (bound <= exact + 1e-9).all() and (exact - bound).max() > 1e-3


# ------------------------------------------------------------------------- the command and the run folder

DBM_CLI = [
    "pretrain-dbm",
    "--dataset",
    "mnist-sample",
    "--train-size",
    "500",
    "--layers",
    "16,8",
    "--pretrain-epochs",
    "3",
    "--epochs",
    "6",
    "--seed",
    "5",
    "--no-progress",
]


def test_pretrain_dbm_writes_its_run_and_evaluate_reads_it(tmp_path):
    import json

    from helpers import events, invoke, only_run

    r = invoke(*DBM_CLI, "--logdir", tmp_path)
    assert r.exit_code == 0, r.output
    run = only_run(tmp_path, "pretrain-dbm")
    s = json.loads((run / "summary.json").read_text())
    lp = s["log_prob"]  # 16 middle units: log Z and log p(v) exact, beside the bound
    assert s["status"] == "finished" and lp["method"] == "exact" and lp["is_lower_bound"]
    assert lp["avg_log_prob"] <= lp["avg_log_prob_exact"] < 0
    assert "test log-probability >=" in r.output
    rep = invoke("report", run)
    assert rep.exit_code == 0 and {p.name for p in (run / "figures").glob("*.png")} == {
        "curves.png",
        "samples.png",
        "filters.png",
    }, rep.output
    ev = events(run)
    assert [e.step for e in ev.Scalars("dbm/bound_train")] == [1, 2, 3, 4, 5, 6]
    assert [e.step for e in ev.Scalars("pretrain/top/recon_error")] == [1, 2, 3, 4, 5, 6]  # twice the bottom's
    assert {"dbm/samples", "dbm/filters"} <= set(ev.Tags()["images"])
    model = revival.load(run)
    assert isinstance(model, M.DBM) and model.layers == [784, 16, 8]
    e = invoke("evaluate-rbm", run, "--json")
    assert e.exit_code == 0, e.output
    again = json.loads(e.output.strip().splitlines()[-1])
    assert again["avg_log_prob"] == pytest.approx(lp["avg_log_prob"], abs=1e-4)
    bad = invoke("evaluate-rbm", run, "--method", "sandwich")
    assert bad.exit_code == 2 and "RAISE" in bad.output
    even = invoke(
        "evaluate-rbm", run, "--method", "ais", "--ais-runs", "20", "--ais-betas", "300", "--ais-schedule", "uniform"
    )
    assert even.exit_code == 0 and "ais_schedule  uniform" in even.output, even.output
    base = invoke("evaluate-rbm", run / "composed.pt", "--json")  # the DBM before joint training
    assert base.exit_code == 0, base.output
    assert json.loads(base.output.strip().splitlines()[-1])["avg_log_prob"] != pytest.approx(lp["avg_log_prob"])


def test_pretrain_dbm_with_three_hidden_layers(tmp_path):
    import json

    from helpers import events, invoke, only_run

    r = invoke(*DBM_CLI, "--layers", "12,8,4", "--epochs", "2", "--logdir", tmp_path)
    assert r.exit_code == 0, r.output
    run = only_run(tmp_path, "pretrain-dbm")
    lp = json.loads((run / "summary.json").read_text())["log_prob"]  # 12 + 4 odd units: exact
    assert lp["method"] == "exact" and lp["avg_log_prob"] <= lp["avg_log_prob_exact"] < 0
    ev = events(run)
    assert [e.step for e in ev.Scalars("pretrain/middle2/recon_error")] == [1, 2, 3]
    assert {"dbm/varying_h3", "dbm/mean_h3"} <= set(ev.Tags()["scalars"])
    assert __import__("revival").load(run).layers == [784, 12, 8, 4]
    assert invoke("report", run).exit_code == 0 and (run / "figures" / "curves.png").is_file()


def test_dbm_runs_overlay_their_monitors(tmp_path, monkeypatch):
    import shutil

    from helpers import invoke, only_run
    from revival.reporting.report import short_name

    assert invoke(*DBM_CLI, "--ais-runs", "0", "--logdir", tmp_path, "--name", "lr-a").exit_code == 0
    a = only_run(tmp_path, "pretrain-dbm")
    b = shutil.copytree(a, a.parent / "20261130-000000-lr-b")
    assert short_name(a) == "lr-a" and short_name(tmp_path) == tmp_path.name
    from revival.reporting import report as REP

    drawn, real = [], REP.draw
    monkeypatch.setattr(REP, "draw", lambda panels, *x, **k: drawn.append(panels) or real(panels, *x, **k))
    r = invoke("report", a, b, "--out", tmp_path / "ov")
    assert r.exit_code == 0 and (tmp_path / "ov" / "overlay.png").is_file(), r.output
    varying = drawn[-1][-1]
    assert {s.label for s in varying.series} == {f"{n}: h{k}" for n in ("lr-a", "lr-b") for k in (1, 2)}
    assert {s.colour for s in varying.series} == {0, 1}  # colour = run


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--layers", "30"], "at least two hidden layers"),
        (["--mf-steps", "0"], "--mf-steps"),
        (["--lr", "nan"], "--lr"),
    ],
)
def test_pretrain_dbm_refuses_bad_options_before_making_a_folder(tmp_path, args, needle):
    from helpers import invoke

    r = invoke(*DBM_CLI, "--logdir", tmp_path, *args)
    assert r.exit_code == 2 and needle in r.output, r.output
    assert not (tmp_path / "pretrain-dbm").exists()


@pytest.mark.parametrize("layers,phase", [("64,32", "top"), ("32,16,8", "middle2")])
def test_sigint_mid_pretraining_then_resume_is_bit_exact(tmp_path, layers, phase):
    import json
    import signal

    from helpers import events, interrupt_after, invoke, only_run, start

    args = [*DBM_CLI, "--layers", layers, "--pretrain-epochs", "6", "--epochs", "4", "--ais-runs", "0"]
    of = 12 if phase == "top" else 6  # the top RBM trains twice as long
    assert interrupt_after(start(args, tmp_path / "a"), f"[pretrain {phase}] epoch 2/{of}", signal.SIGINT) == 130
    run = only_run(tmp_path / "a", "pretrain-dbm")
    assert json.loads((run / "summary.json").read_text())["status"] == "interrupted"
    r = invoke("pretrain-dbm", "--resume", run, "--no-progress")
    assert r.exit_code == 0 and "resuming" in r.output and f"({phase} epoch" in r.output, r.output
    assert invoke(*args, "--logdir", tmp_path / "b").exit_code == 0
    ref = only_run(tmp_path / "b", "pretrain-dbm")
    a, b = (torch.load(p / "model.pt", weights_only=True)["state_dict"] for p in (run, ref))
    assert all(torch.equal(a[k], b[k]) for k in a)
    ca, cb = (torch.load(p / "state.pt", weights_only=True)["trainer"]["chain"] for p in (run, ref))
    assert all(torch.equal(x, y) for x, y in zip(ca, cb))
    assert [e.step for e in events(run).Scalars("dbm/bound_train")] == [1, 2, 3, 4]


def test_fit_dbm_with_a_logger_gives_the_in_memory_parameters(tmp_path):
    import numpy as np

    from revival.config import DBMConfig

    x = (np.random.default_rng(1).random((300, 784)) < 0.2).astype(np.float32)
    cfg = DBMConfig(layers=(12, 6), pretrain_epochs=2, epochs=3, binarize="none", device="cpu")
    a, ha = revival.fit_dbm(x, cfg)
    b, hb = revival.fit_dbm(x, cfg, logger=revival.RunLogger(tmp_path, echo=lambda m: None))
    assert same(a, b) and ha == hb
    assert len(ha["bound_train"]) == 3 and len(ha["pretrain"]["bottom"]["recon_error"]) == 2


# ------------------------------------------------------------------------- DBM-initialised nets


def test_the_unrolled_net_reproduces_mean_field_on_the_augmented_input():
    """At the mean-field fixed point the unrolled net's first hidden layer on [v, q(h2)] gives mu1
    and its second gives mu2: the net starts exactly where the DBM's inference ends."""
    from revival.experiments import dbm_finetune as FT
    from revival.models.mlp import seeded_mlp as init_mlp

    params = tiny(7, 0.7, (12, 6, 4))
    model = M.from_params(*params)
    v = states(12)[::37]
    aug = FT.augment(model, v, mf_steps=200)
    mu1, mu2 = M.mean_field(v, *params, steps=200)
    assert torch.equal(aug[:, :12], v) and torch.allclose(aug[:, 12:], mu2)
    net = init_mlp([16, 6, 4, 10], "logistic", 0, "auto").double()
    FT.init_net_(net, model)
    h1 = torch.sigmoid(net.layers[0](aug))
    h2 = torch.sigmoid(net.layers[1](h1))
    assert torch.allclose(h1, mu1, atol=1e-6) and torch.allclose(h2, mu2, atol=1e-6)
    FT.init_net_(net, model, 1 / 0.8, 2.0)  # the papers' dropout: weights scaled by 1/q, biases kept
    (_, w2), (_, _, c2) = params
    assert torch.allclose(net.layers[1].weight, 2.0 * w2) and torch.allclose(net.layers[1].bias, c2)
    with pytest.raises(ValueError, match="two layers"):
        FT.init_net_(init_mlp([16, 6, 5, 10], "logistic", 0, "auto").double(), model)
    with pytest.raises(ValueError, match="two hidden layers"):
        FT.augment(M.from_params(*tiny(7, 0.7, (12, 6, 4, 3))), v)


def test_compare_dropout_dbm_variants_train_the_dbm_once_and_resume_from_it(tmp_path):
    import json

    from helpers import invoke, only_run

    args = [
        "compare-dropout",
        "--dataset",
        "mnist-sample",
        "--train-size",
        "300",
        "--layers",
        "32,16",
        "--epochs",
        "2",
        "--variants",
        "baseline,dbm-pretrained,dbm-pretrained-dropout",
        "--pretrain-epochs",
        "2",
        "--dbm-epochs",
        "2",
        "--mc-samples",
        "0",
        "--no-progress",
        "--logdir",
        tmp_path,
    ]
    r = invoke(*args)
    assert r.exit_code == 0, r.output
    run = only_run(tmp_path, "compare-dropout")
    assert r.output.count("training a 784-32-16 DBM") == 1  # shared by both DBM variants
    assert (run / "dbm-n300-s0" / "result.json").is_file() and isinstance(
        __import__("revival").load(run / "dbm-n300-s0"), M.DBM
    )
    rows = {x["variant"]: x for x in json.loads((run / "summary.json").read_text())["rows"]}
    assert set(rows) == {"baseline", "dbm-pretrained", "dbm-pretrained-dropout"}
    assert rows["dbm-pretrained"]["pretrained"] and not rows["baseline"]["pretrained"]
    assert not (run / "dbm-n300-s0" / "state.pt").exists()  # finished: no resume state left
    assert (run / "dbm-n300-s0" / "composed.pt").is_file()  # the DBM before its joint training
    assert "the DBM variants' input adds q(h2 | v): 800 numbers" in (run / "summary.md").read_text()
    bad = invoke(*args[:-2], "--logdir", tmp_path / "x", "--layers", "32,16,8")
    assert bad.exit_code == 2 and "two-hidden-layer DBM" in bad.output
    plan = invoke(*args[:-2], "--logdir", tmp_path / "y", "--plan")
    assert (
        plan.exit_code == 0
        and "pretraining" in [ln for ln in plan.output.splitlines() if "| dbm-pretrained |" in ln][0]
    )


@pytest.mark.parametrize("labels", [False, True])
def test_a_library_dbm_run_resumes_and_extends_bit_for_bit(tmp_path, labels):
    import numpy as np

    from revival.config import DBMConfig

    x = (np.random.default_rng(2).random((300, 784)) < 0.2).astype(np.float32)
    y = np.arange(300) % 10 if labels else None
    cfg = DBMConfig(layers=(12, 6), pretrain_epochs=2, epochs=2, labels=labels, binarize="none", device="cpu")
    quiet = lambda m: None  # noqa: E731
    revival.fit_dbm(x, cfg, y=y, logger=revival.RunLogger(tmp_path, echo=quiet))
    (run,) = (tmp_path / "pretrain-dbm").iterdir()
    more = cfg.replace(epochs=4)
    a, ha = revival.fit_dbm(x, more, y=y, logger=revival.RunLogger(echo=quiet, resume=run))
    b, hb = revival.fit_dbm(x, more, y=y)
    assert same(a, b) and ha == hb and a.n_labels == (10 if labels else 0)
    with pytest.raises(ValueError, match="another lr"):
        revival.fit_dbm(x, more.replace(lr=0.01, epochs=5), y=y, logger=revival.RunLogger(echo=quiet, resume=run))


def test_compare_dropout_resumes_a_dbm_interrupted_mid_training_bit_for_bit(tmp_path):
    import signal

    from helpers import interrupt_after, invoke, only_run, start

    args = [
        "compare-dropout",
        "--dataset",
        "mnist-sample",
        "--train-size",
        "500",
        "--layers",
        "64,32",
        "--epochs",
        "1",
        "--variants",
        "dbm-pretrained",
        "--pretrain-epochs",
        "2",
        "--dbm-epochs",
        "6",
        "--mc-samples",
        "0",
        "--no-progress",
    ]
    assert interrupt_after(start(args, tmp_path / "a"), "[dbm] epoch 2/6", signal.SIGINT) == 130
    run = only_run(tmp_path / "a", "compare-dropout")
    assert (run / "dbm-n500-s0" / "state.pt").is_file() and not (run / "dbm-n500-s0" / "result.json").exists()
    r = invoke("compare-dropout", "--resume", run, "--no-progress")
    assert r.exit_code == 0 and "[dbm-n500-s0] resuming after epoch" in r.output, r.output
    assert invoke(*args, "--logdir", tmp_path / "b").exit_code == 0
    ref = only_run(tmp_path / "b", "compare-dropout")
    a, b = (torch.load(p / "dbm-n500-s0" / "model.pt", weights_only=True)["state_dict"] for p in (run, ref))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_the_console_warns_once_when_a_layer_collapses(tmp_path):
    from types import SimpleNamespace

    from revival.training.dbm_train import RunSink, collapsed_layers

    assert collapsed_layers({"varying_h1": 0.9, "varying_h2": 0.01, "varying_h3": 0.0, "mean_h2": 0.0}) == ["h2", "h3"]
    said = []
    fit = SimpleNamespace(
        phases=("bottom", "top", "joint"), phase="joint", epoch=0, epochs_of=lambda p: 3, model=None, state=dict
    )
    sink = RunSink(tmp_path, {}, said.append)
    sink.phase(fit)
    for k, h2 in enumerate((0.5, 0.0, 0.0), 1):
        sink.epoch(fit, {"phase": "joint", "epoch": k, "varying_h1": 0.9, "varying_h2": h2})
    warnings = [m for m in said if m.startswith("warning")]
    assert len(warnings) == 1 and "in h2 (" in warnings[0] and "--lr" in warnings[0] and len(said) == 4


def test_pretrain_dbm_trains_on_all_the_images_when_asked(tmp_path):
    import json

    from helpers import invoke, only_run

    r = invoke(
        "pretrain-dbm", "--dataset", "mnist-sample", "--layers", "20,20", "--pretrain-epochs", 1, "--epochs", 1,
        "--ais-runs", 0, "--train-on-all", "--no-progress", "--logdir", tmp_path,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    d = revival.load_dataset("mnist-sample")
    assert (
        f"training on the training and validation images together: {len(d.x_train) + len(d.x_valid)} images" in r.output
    )
    run = only_run(tmp_path, "pretrain-dbm")
    assert json.loads((run / "config.json").read_text())["options"]["train_on_all"] is True
    r = invoke("pretrain-dbm", "--dataset", "mnist-sample", "--train-on-all", "--train-size", 100, "--logdir", tmp_path)
    assert r.exit_code == 2 and "leave out --train-size" in r.output


def test_every_dbm_default_names_where_it_comes_from():
    """DBMConfig's defaults are the authors' procedure: each setting the command offers cites its source,
    the released code's file and line where it comes from there, and -h prints it."""
    import dataclasses

    from helpers import invoke
    from revival.config import DBMConfig

    offered = [f for f in dataclasses.fields(DBMConfig) if f.metadata.get("help")]
    from_code = [f.name for f in offered if "dbm/code_DBM" in f.metadata.get("source", "")]
    assert len(from_code) >= 20 and all(
        " l." in DBMConfig.__dataclass_fields__[n].metadata["source"] for n in from_code
    )
    assert {f.name for f in offered} - set(from_code) == {"lr_decay"}  # revival's own, and it says so
    r = invoke("pretrain-dbm", "-h")
    text = " ".join(r.output.split())  # as wrapped for the terminal
    assert r.exit_code == 0 and "dbm_mf.m l.110-112" in text and "rbm_l2.m l.75-79" in text
    c = DBMConfig()
    assert (c.pretrain_epochs, c.top_epochs(), c.epochs, c.lr, c.gibbs_steps, c.chain_start) == (
        100, 200, 300, 0.001, 5, "uniform"
    )  # fmt: skip


def labelled(seed=3, n_labels=3, shape=(6, 4, 3), scale=0.5):
    """A tiny DBM with label units on its top layer: (ws, bs, (U, by)), float64."""
    ws, bs = tiny(seed, scale, shape)
    g = torch.Generator().manual_seed(seed + 100)
    lab = (
        torch.randn(n_labels, shape[-1], generator=g, dtype=torch.float64) * scale,
        torch.randn(n_labels, generator=g, dtype=torch.float64) * scale,
    )
    return ws, bs, lab


def test_gibbs_with_label_units_samples_the_labelled_dbm_and_pcd_subtracts_it():
    """Enumerating (v, h, y): -E gains by.y + y.U h_L. After 100 sweeps the chains' labels and their pairs
    with the top layer are the model's, and pcd_statistics' label gradients are data minus those."""
    ws, bs, lab = labelled()
    xs, neg_e = joint(ws, bs)
    u, by = lab
    total = neg_e[:, None] + by[None, :] + xs[-1] @ u.t()  # [states, labels]
    prob = torch.softmax(total.flatten(), 0).reshape(total.shape)
    g = torch.Generator().manual_seed(0)
    chain = (*M.noise_chains(40_000, ws, bs, generator=g), M.uniform_labels(40_000, 3, g, ws[0]))
    for _ in range(100):
        chain = M.gibbs_sweep(chain, ws, bs, generator=g, lab=lab)
    y = chain[-1]
    assert y.shape == (40_000, 3) and torch.equal(y.sum(1), torch.ones(40_000))
    assert torch.allclose(y.mean(0), prob.sum(0), atol=0.01)
    exact_pair = torch.einsum("sk,si->ki", prob, xs[-1])  # <y h_L^T>
    assert torch.allclose(y.t() @ chain[-2] / 40_000, exact_pair, atol=0.015)
    data = states(6)[:8]
    yd = torch.nn.functional.one_hot(torch.arange(8) % 3, 3).double()
    grads, _ = L.pcd_statistics(data, chain, ws, bs, g, mf_steps=100, y=yd, lab=lab)
    assert len(grads) == 2 + 3 + 2  # W1, W2; b, c1, c2; U, by
    mu = M.mean_field(data, ws, bs, steps=100, top_input=yd @ u)
    assert torch.allclose(yd.t() @ mu[-1] / 8 - grads[-2], exact_pair, atol=0.02)
    assert torch.allclose(yd.mean(0) - grads[-1], prob.sum(0), atol=0.02)


def test_mean_field_with_clamped_labels_reaches_its_fixed_point():
    ws, bs, lab = labelled()
    v = states(6)[::9]
    y = torch.nn.functional.one_hot(torch.arange(len(v)) % 3, 3).double()
    mu1, mu2 = M.mean_field(v, ws, bs, steps=200, top_input=y @ lab[0])
    assert torch.allclose(mu1, torch.sigmoid(bs[1] + v @ ws[0].t() + mu2 @ ws[1]), atol=1e-9)
    assert torch.allclose(mu2, torch.sigmoid(bs[2] + mu1 @ ws[1].t() + y @ lab[0]), atol=1e-9)
    free = M.mean_field(v, ws, bs, steps=200)[1]
    assert not torch.allclose(free, mu2, atol=1e-3)  # the labels move the top layer


def test_the_top_rbm_with_label_units_written_out_from_the_same_draws():
    """rbm_l2.m: the hidden side hears W v + U^T y; each step samples h, then y' ~ softmax(by + U h) and
    v' ~ sigmoid(2 (b + W^T h)); grad U = <y P(h | v, y)> - <y' P(h | v', y')>."""
    from revival.models import rbm as R

    ws, bs, lab = labelled(n_labels=3, shape=(6, 4, 3))
    w, b, c = ws[0], bs[0], bs[1]
    u = torch.randn(3, 4, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    v = (torch.rand(16, 6, generator=torch.Generator().manual_seed(1)) < 0.5).double()
    y = torch.nn.functional.one_hot(torch.arange(16) % 3, 3).double()
    ours = L.doubled_cd_statistics(v, w, b, c, torch.Generator().manual_seed(7), 1.0, 2.0, 2, y, (u, lab[1]))
    g = torch.Generator().manual_seed(7)
    h0 = torch.sigmoid(v @ w.t() + c + y @ u)
    h, yk = h0, y
    for _ in range(2):
        hs = R.sample_bernoulli(h, g)
        p = torch.softmax(lab[1] + hs @ u.t(), -1)
        yk = torch.nn.functional.one_hot(torch.multinomial(p, 1, generator=g)[:, 0], 3).double()
        vk = R.sample_bernoulli(torch.sigmoid(2 * (hs @ w + b)), g)
        h = torch.sigmoid(vk @ w.t() + c + yk @ u)
    want = (
        (h0.t() @ v - h.t() @ vk) / 16,
        (v - vk).mean(0),
        (h0 - h).mean(0),
        (y.t() @ h0 - yk.t() @ h) / 16,
        (y - yk).mean(0),
    )
    assert len(ours) == 5 and all(torch.allclose(a, b_) for a, b_ in zip(ours, want))


def test_a_dbm_with_label_units_learns_to_name_the_prototypes(tmp_path):
    """fit_dbm(labels=True) on the four prototypes labelled by which one they are: the exact
    p(y | v) of the trained DBM (h_1 summed out analytically, h_2 and y enumerated) names held-out rows;
    the checkpoint keeps the label units; the test log-probability refuses, saying why."""
    import numpy as np

    from revival.config import DBMConfig

    rng = np.random.default_rng(4)
    protos = rng.random((4, 10)) < 0.5

    def draw(n):
        k = rng.integers(0, 4, n)
        return (protos[k] ^ (rng.random((n, 10)) < 0.05)).astype(np.float32), k

    (x, y), (xt, yt) = draw(2000), draw(300)
    dbm, _ = revival.fit_dbm(x, DBMConfig(layers=(8, 4), labels=True, epochs=20, **{**TINY_FIT}), y=y)
    assert dbm.n_labels == 4
    ws, bs = M.as_double(dbm).params()
    u, by = (t.double() for t in dbm.label_params())
    v = torch.tensor(xt, dtype=torch.float64)
    h2 = states(4)
    z1 = bs[1] + v @ ws[0].t()  # [n, 8]
    inner = torch.nn.functional.softplus(z1[:, None, :] + (h2 @ ws[1])[None]).sum(-1)  # [n, 16]
    log_py = torch.logsumexp(inner[:, :, None] + (h2 @ bs[2])[None, :, None] + (h2 @ u.t())[None], 1) + by
    accuracy = float((log_py.argmax(1).numpy() == yt).mean())
    assert accuracy > 0.9, accuracy
    revival.save(dbm, tmp_path / "dbm.pt")
    back = revival.load(tmp_path / "dbm.pt")
    assert back.n_labels == 4 and same(back, dbm)
    with pytest.raises(ValueError, match="label units"):
        revival.log_prob(dbm, xt)
    with pytest.raises(ValueError, match="y: DBMConfig"):
        revival.fit_dbm(x, DBMConfig(layers=(8, 4), labels=True, epochs=0, pretrain_epochs=0, device="cpu"))


def test_label_units_from_the_commands(tmp_path):
    """pretrain-dbm --labels trains them and says why it gives no test log-probability; compare-dropout
    --dbm-labels starts its nets from such a DBM (the label units dropped, as the authors' mf_class.m)."""
    import json

    from helpers import invoke, only_run

    r = invoke(
        "pretrain-dbm", "--dataset", "mnist-sample", "--train-size", "300", "--layers", "16,8", "--pretrain-epochs", 2,
        "--epochs", 2, "--labels", "--no-progress", "--logdir", tmp_path / "a",
    )  # fmt: skip
    assert r.exit_code == 0 and "no test log-probability: a DBM with label units" in r.output, r.output
    run = only_run(tmp_path / "a", "pretrain-dbm")
    assert "log_prob" not in json.loads((run / "summary.json").read_text())
    assert "not computed: a DBM with label units" in (run / "summary.md").read_text()
    assert revival.load(run).n_labels == 10
    r = invoke(
        "compare-dropout", "--dataset", "mnist-sample", "--train-size", "300", "--layers", "32,16", "--epochs", 1,
        "--variants", "dbm-pretrained", "--pretrain-epochs", 1, "--dbm-epochs", 1, "--dbm-labels", "--mc-samples", 0,
        "--no-progress", "--logdir", tmp_path / "b",
    )  # fmt: skip
    assert r.exit_code == 0 and "with 10 label units on its top layer" in r.output, r.output
    assert revival.load(only_run(tmp_path / "b", "compare-dropout") / "dbm-n300-s0").n_labels == 10


def test_compare_dropout_starts_its_dbm_variants_from_a_dbm_trained_elsewhere(tmp_path):
    """--dbm-init: a pretrain-dbm run (e.g. one at full length) serves every DBM point, no DBM is trained
    in the experiment; a DBM of other sizes is refused before any run folder, naming both."""
    from helpers import invoke, only_run

    r = invoke(
        "pretrain-dbm", "--dataset", "mnist-sample", "--train-size", "300", "--layers", "32,16", "--pretrain-epochs", 1,
        "--epochs", 1, "--ais-runs", 0, "--no-progress", "--logdir", tmp_path / "dbm",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    dbm_run = only_run(tmp_path / "dbm", "pretrain-dbm")
    args = ["compare-dropout", "--dataset", "mnist-sample", "--train-size", "300", "--epochs", 1, "--mc-samples", 0]
    args += ["--variants", "dbm-pretrained", "--dbm-init", dbm_run, "--no-progress"]
    r = invoke(*args, "--layers", "32,16", "--logdir", tmp_path / "a")
    assert r.exit_code == 0 and f"starting the DBM variants from {dbm_run}" in r.output, r.output
    assert "training a 784-32-16 DBM" not in r.output
    assert not list(only_run(tmp_path / "a", "compare-dropout").glob("dbm-n*"))
    bad = invoke(*args, "--layers", "32,8", "--logdir", tmp_path / "b")
    assert bad.exit_code == 2 and "784-32-16 DBM" in bad.output and "784-32-8" in bad.output, bad.output
    assert not (tmp_path / "b" / "compare-dropout").exists()
    alone = invoke("compare-dropout", "--dataset", "mnist-sample", "--variants", "baseline", "--dbm-init", dbm_run)
    assert alone.exit_code == 2 and "--dbm-init only applies" in alone.output


def test_the_dbm_log_probability_can_space_its_temperatures_evenly():
    """ais_schedule="uniform" (Salakhutdinov & Hinton 2009's evaluation: evenly spaced inverse
    temperatures) reaches the enumerated log Z of a tiny DBM too, and says which schedule it ran."""
    from revival.models import partition as P

    assert torch.equal(P.betas_of_size(5, schedule="uniform"), torch.linspace(0, 1, 5))
    with pytest.raises(ValueError, match="unknown AIS schedule"):
        P.betas_of_size(5, schedule="even")
    model = M.from_params(*[[t.float() for t in p] for p in tiny(3, 1.0, (10, 8, 5))])
    x = (torch.rand(50, 10, generator=torch.Generator().manual_seed(0)) < 0.5).float().numpy()
    exact = revival.log_prob(model, x)
    lp = revival.log_prob(model, x, method="ais", ais_runs=200, ais_betas=1000, ais_schedule="uniform")
    assert lp["ais_schedule"] == "uniform" and abs(lp["log_Z"] - exact["log_Z"]) < 0.1
    with pytest.raises(ValueError, match="ais_schedule"):
        revival.log_prob(model, x, method="ais", ais_schedule="even")
    rbm = revival.RBM(10, 6)  # an RBM's AIS takes the same schedule
    torch.nn.init.normal_(rbm.weight, 0, 1.0, generator=torch.Generator().manual_seed(1))
    exact = revival.log_prob(rbm, x)
    lp = revival.log_prob(rbm, x, method="ais", ais_runs=200, ais_betas=1000, ais_schedule="uniform")
    assert lp["ais_schedule"] == "uniform" and abs(lp["log_Z"] - exact["log_Z"]) < 0.1

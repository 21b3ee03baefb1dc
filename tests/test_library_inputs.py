"""The library's silent wrong results of the third adversarial round, each refused or made right:
model methods check their input's width and values (a reshape changed the row count), ``fit_net``
resumes bit for bit (it retrained from epoch 0 in the old folder), and ``--threads`` from a TOML
file or the environment passes the command line's checks (it crashed torch)."""

import json
import re

import numpy as np
import pytest
import torch

import revival
from helpers import invoke
from revival import api
from revival.config import CompareConfig, DBNConfig, NetConfig, RBMConfig
from revival.experiments import experiment


@pytest.fixture(scope="module")
def sample():
    return revival.load_dataset("mnist-sample", train_size=200)


@pytest.fixture(scope="module")
def models(sample):
    rbm, _ = revival.fit_rbm(sample.x_train, RBMConfig(n_hidden=6, epochs=1, device="cpu"))
    dbn, _ = revival.fit_dbn(sample.x_train, DBNConfig(layers=(6, 4), epochs=1, device="cpu"))
    net, _ = revival.fit_net(sample.x_train, sample.y_train, NetConfig(layers=(6,), epochs=1, device="cpu"))
    return {"rbm": rbm, "dbn": dbn, "net": net}


@pytest.mark.parametrize(
    "name,method",
    [("net", "predict"), ("net", "predict_proba"), ("rbm", "transform"), ("rbm", "free_energy"), ("dbn", "transform")],
)
def test_a_model_method_refuses_rows_of_another_width(sample, models, name, method):
    f = getattr(models[name], method)
    x = sample.x_test[:5]
    assert len(f(x)) == 5 and len(f(x[0])) == 1  # one row of the right width is a batch of one
    with pytest.raises(ValueError, match="rows of 1568 values, the model takes 784"):
        f(np.hstack([x, x]))  # 1,568 columns: a reshape to (-1, 784) made 10 rows of 5
    with pytest.raises(ValueError, match="rows of 392 values, the model takes 784"):
        f(x[:, :392])
    bad = x.astype(np.float32)
    bad[1, 3] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        f(bad)


def test_fit_net_resumes_an_interrupted_run_bit_for_bit(sample, tmp_path, monkeypatch):
    cfg = NetConfig(layers=(8,), epochs=4, device="cpu", seed=3)
    args = (sample.x_train, sample.y_train, cfg)
    whole, hist = revival.fit_net(*args, valid=(sample.x_valid, sample.y_valid))
    calls = {"n": 0}
    real = api.NetFit.train

    def stop_in_epoch_3(self, epoch, check, on_batch=None):
        calls["n"] += 1
        if epoch == 2:
            raise revival.Interrupted(2)
        return real(self, epoch, check, on_batch)

    monkeypatch.setattr(api.NetFit, "train", stop_in_epoch_3)
    logger = revival.RunLogger(tmp_path, echo=lambda m: None)
    with pytest.raises(revival.Interrupted):
        revival.fit_net(*args, valid=(sample.x_valid, sample.y_valid), logger=logger)
    monkeypatch.setattr(api.NetFit, "train", real)
    run = logger.path
    assert json.loads((run / "summary.json").read_text())["status"] == "interrupted"
    net, back = revival.fit_net(
        *args, valid=(sample.x_valid, sample.y_valid), logger=revival.RunLogger(resume=run, echo=lambda m: None)
    )
    assert back["epoch"] == [1, 2, 3, 4]  # the whole history, not the resumed part relabelled
    assert back["valid_error"] == hist["valid_error"]
    for a, b in zip(net.parameters(), whole.parameters()):
        assert torch.equal(a, b)
    # a finished run: more epochs extend it as a longer run would have trained; the same or fewer are refused
    for epochs in (4, 2):
        with pytest.raises(
            ValueError, match="already finished after 4 epochs; nothing to resume; asking for more than 4 epochs"
        ):
            revival.fit_net(
                sample.x_train,
                sample.y_train,
                NetConfig(layers=(8,), epochs=epochs, device="cpu", seed=3),
                logger=revival.RunLogger(resume=run, echo=lambda m: None),
            )
    longer_cfg = NetConfig(layers=(8,), epochs=6, device="cpu", seed=3)
    longer, _ = revival.fit_net(sample.x_train, sample.y_train, longer_cfg, valid=(sample.x_valid, sample.y_valid))
    ext, h = revival.fit_net(
        sample.x_train,
        sample.y_train,
        longer_cfg,
        valid=(sample.x_valid, sample.y_valid),
        logger=revival.RunLogger(resume=run, echo=lambda m: None),
    )
    assert h["epoch"] == [1, 2, 3, 4, 5, 6]
    for a, b in zip(ext.parameters(), longer.parameters()):
        assert torch.equal(a, b)


def test_fit_net_refuses_a_run_it_cannot_resume_exactly(sample, tmp_path):
    cfg = NetConfig(layers=(4,), epochs=2, device="cpu")
    logger = revival.RunLogger(tmp_path, echo=lambda m: None)
    revival.fit_net(sample.x_train, sample.y_train, cfg, logger=logger)
    run = logger.path
    (run / "state.pt").unlink()  # the weights alone: the trainer's velocities and generators are gone
    s = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**s, "status": "interrupted"}))
    for _ in range(2):  # the refusal takes no lock and changes no record: a retry gets the same line
        with pytest.raises(ValueError, match="holds model.pt but no state.pt"):
            revival.fit_net(
                sample.x_train, sample.y_train, cfg, logger=revival.RunLogger(resume=run, echo=lambda m: None)
            )
    assert json.loads((run / "summary.json").read_text())["status"] == "interrupted"


@pytest.mark.parametrize(
    "toml,env,needle",
    [
        ("threads = 0\n", {}, "0 is not in 1..1024"),
        ("threads = 100000\n", {}, "100000 is not in 1..1024"),
        ("threads = true\n", {}, "threads = true: expected a value, not true/false"),
        ("threads = 1.5\n", {}, "1.5 is neither 'auto' nor a whole number"),
        ("", {"OMP_NUM_THREADS": "100000"}, "OMP_NUM_THREADS=100000 is not in 1..1024"),
        ('threads = "auto"\n', {"OMP_NUM_THREADS": "0"}, "OMP_NUM_THREADS=0 is not in 1..1024"),
    ],
)
def test_threads_from_toml_or_the_environment_pass_the_command_lines_checks(tmp_path, monkeypatch, toml, env, needle):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    cfg = tmp_path / "c.toml"
    cfg.write_text(toml)
    r = invoke("pretrain-rbm", "--config", cfg, "--dataset", "mnist-sample", "--epochs", 1, "--logdir", tmp_path)
    assert r.exit_code == 2 and needle in r.output, r.output
    assert not (tmp_path / "pretrain-rbm").exists()


@pytest.mark.parametrize(
    "cls,kw,needle",
    [
        (RBMConfig, {"epochs": None}, "RBMConfig.epochs: expected a value (default 10), got None"),
        (RBMConfig, {"visible_bias_init": None}, "RBMConfig.visible_bias_init: expected a value"),
        (RBMConfig, {"n_hidden": ()}, "RBMConfig.n_hidden: expected one value"),
        (RBMConfig, {"device": 3}, "RBMConfig.device: expected text"),
        (NetConfig, {"lr": (0.1, 0.2)}, "NetConfig.lr: expected one value"),
        (NetConfig, {"activation": None}, "NetConfig.activation: expected a value"),
        (NetConfig, {"restore_best": 1}, "NetConfig.restore_best: expected True or False"),
        (NetConfig, {"patience": 0}, "NetConfig.patience"),
    ],
)
def test_every_config_value_is_checked_when_the_config_is_made(cls, kw, needle):
    from revival.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        cls(**kw)
    assert needle in str(e.value)


def test_none_and_per_layer_tuples_stay_where_they_mean_something():
    assert RBMConfig(lr=None, momentum=None).lr is None  # None: "unset", the documented default rule
    assert NetConfig(max_norm=None, patience=None).patience is None
    assert DBNConfig(layers=(5, 4), lr=(0.1, 0.05)).layer_configs()[1].lr == 0.05  # per layer, documented


def test_fit_net_checks_its_labels_and_splits_before_training(sample):
    cfg = NetConfig(layers=(4,), epochs=1, device="cpu")
    y = sample.y_train.copy()
    y[0] = 10**6  # one wild label would have built a 1,000,001-unit output layer
    with pytest.raises(ValueError, match="labels run to 1000000 but only 11 of the 1000001 classes"):
        revival.fit_net(sample.x_train, y, cfg)
    for split in ("valid", "test"):
        with pytest.raises(ValueError, match=f"{split}: rows of 100 values, x has 784"):
            revival.fit_net(sample.x_train, sample.y_train, cfg, **{split: (sample.x_test[:, :100], sample.y_test)})


def test_fit_dbm_checks_its_validation_rows_before_training(sample):
    from revival.config import DBMConfig

    cfg = DBMConfig(layers=(8, 8), pretrain_epochs=1, epochs=1, device="cpu")
    with pytest.raises(ValueError, match="x_valid: 100 columns, x has 784"):
        revival.fit_dbm(sample.x_train[:100], cfg, x_valid=sample.x_test[:50, :100])


def test_log_prob_refuses_an_empty_ais_for_every_model(sample):
    from revival.config import DBMConfig

    dbm, _ = revival.fit_dbm(sample.x_train[:100], DBMConfig(layers=(8, 8), pretrain_epochs=1, epochs=1, device="cpu"))
    rbm, _ = revival.fit_rbm(sample.x_train[:100], RBMConfig(n_hidden=8, epochs=1, device="cpu"))
    for model in (dbm, rbm):
        with pytest.raises(ValueError, match="ais_runs: AIS needs a whole number >= 1, got 0"):
            revival.log_prob(model, sample.x_test[:10], ais_runs=0)
        with pytest.raises(ValueError, match="ais_betas: AIS needs a whole number >= 2"):
            revival.log_prob(model, sample.x_test[:10], ais_betas=1)


@pytest.mark.parametrize("size", [-5, 0, True, 2.5])
def test_load_dataset_refuses_a_training_size_that_is_not_a_count(size):
    with pytest.raises(ValueError, match="train_size: expected a positive whole number"):
        revival.load_dataset("mnist-sample", train_size=size)


@pytest.mark.parametrize(
    "kw,needle",
    [
        ({"epochs": 0}, r"CompareConfig.epochs: 0 is outside \[1, inf\)"),
        ({"lr": float("nan")}, "CompareConfig.lr: nan is not a finite number"),
        ({"hidden_dropout": 1.0}, r"CompareConfig.hidden_dropout: 1.0 is outside \[0, 1\)"),
        ({"variants": "baseline,bogus"}, "unknown variant"),
        ({"layers": "500,x"}, "CompareConfig.layers: 'x' is not a valid int"),
        ({"init": "no/such/run", "variants": "pretrained"}, "CompareConfig.init: no/such/run: no such file or folder"),
    ],
)
def test_the_librarys_compare_dropout_checks_what_the_command_checks(tmp_path, kw, needle):
    with pytest.raises(ValueError, match=needle):
        revival.compare_dropout(logdir=tmp_path, dataset="mnist-sample", echo=lambda m: None, **kw)
    assert not (tmp_path / "compare-dropout").exists()  # refused before any folder


def test_a_string_of_variants_is_the_commands_comma_list():
    from revival.config import CompareConfig, as_given

    assert as_given(CompareConfig, {"variants": "baseline"})["variants"] == ["baseline"]
    assert as_given(CompareConfig, {"variants": ["baseline", "dropout"]})["variants"] == ["baseline", "dropout"]
    assert as_given(CompareConfig, {"layers": "500, 200", "lr": 0.1}) == {"layers": [500, 200], "lr": 0.1}


def test_a_finished_dbm_run_is_never_rewritten_with_fewer_epochs(tmp_path):
    args = ["--dataset", "mnist-sample", "--layers", "10,10", "--pretrain-epochs", 1, "--ais-runs", 0, "--no-progress"]
    assert invoke("pretrain-dbm", *args, "--epochs", 2, "--logdir", tmp_path).exit_code == 0
    run = next((tmp_path / "pretrain-dbm").iterdir())
    before = (run / "config.json").read_text()
    r = invoke("pretrain-dbm", "--resume", run, "--epochs", 1)
    assert r.exit_code == 2 and "already finished after 2 epochs" in r.output and "more than 2 epochs" in r.output
    assert (run / "config.json").read_text() == before and json.loads((run / "summary.json").read_text())[
        "status"
    ] == "finished"


def test_report_draws_a_dbm_run_whose_summary_holds_a_damaged_log_prob(tmp_path):
    args = ["--dataset", "mnist-sample", "--layers", "10,10", "--pretrain-epochs", 1, "--epochs", 1, "--ais-runs", 0]
    assert invoke("pretrain-dbm", *args, "--no-progress", "--no-figures", "--logdir", tmp_path).exit_code == 0
    run = next((tmp_path / "pretrain-dbm").iterdir())
    s = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**s, "log_prob": [1, 2]}))
    r = invoke("report", run)
    assert r.exit_code == 0 and "figure file(s)" in r.output, r.output


def test_a_command_refuses_to_resume_a_library_run_naming_the_way_that_works(sample, tmp_path):
    from revival.config import DBMConfig

    logger = revival.RunLogger(tmp_path, echo=lambda m: None)
    cfg = DBMConfig(layers=(8, 8), pretrain_epochs=1, epochs=1, device="cpu")
    revival.fit_dbm(sample.x_train[:100], cfg, logger=logger)
    before = (logger.path / "config.json").read_text()
    r = invoke("pretrain-dbm", "--resume", logger.path, "--epochs", 3)  # it was a KeyError: 'dataset'
    assert r.exit_code == 2 and "a run of the library" in r.output and "RunLogger(resume=RUN)" in r.output
    assert (logger.path / "config.json").read_text() == before
    assert json.loads((logger.path / "summary.json").read_text())["status"] == "finished"
    again = invoke("pretrain-dbm", "--resume", logger.path, "--epochs", 3)
    assert again.exit_code == 2 and "in use" not in again.output  # the refusal left no lock behind


@pytest.mark.parametrize("kind", ["net", "dbm"])
@pytest.mark.parametrize("damage", ["torn", "foreign"])
def test_a_bad_resume_state_is_refused_in_one_line_and_the_retry_is_not_locked_out(sample, tmp_path, kind, damage):
    from revival.config import DBMConfig

    def fit(logger, epochs):
        if kind == "net":
            cfg = NetConfig(layers=(4,), epochs=epochs, device="cpu")
            return revival.fit_net(sample.x_train, sample.y_train, cfg, logger=logger)
        cfg = DBMConfig(layers=(8, 8), pretrain_epochs=1, epochs=epochs, device="cpu")
        return revival.fit_dbm(sample.x_train[:100], cfg, logger=logger)

    logger = revival.RunLogger(tmp_path, echo=lambda m: None)
    fit(logger, 1)
    run = logger.path
    if damage == "torn":
        (run / "state.pt").write_bytes(b"not a torch file")
        needle, status = "state.pt: cannot be read", "finished"  # refused before the run is touched
    else:  # another fit's state: its keys are not this one's
        torch.save({"epoch": 1, "unrelated": 0}, run / "state.pt")
        needle, status = "does not fit this run's model and settings", "failed"  # recorded, with traceback.txt
    for _ in range(2):  # the same line twice: never "in use by another revival process" (this one)
        with pytest.raises(ValueError, match=needle):
            fit(revival.RunLogger(resume=run, echo=lambda m: None), 2)
    assert json.loads((run / "summary.json").read_text())["status"] == status
    assert (run / "traceback.txt").exists() == (status == "failed")


def test_compare_dropouts_start_up_is_recorded_once_the_folder_exists(tmp_path, monkeypatch):
    from revival.experiments import compare

    def boom(*a, **k):
        raise MemoryError("the grid did not fit")

    monkeypatch.setattr(compare, "Experiment", boom)  # fails after "run folder:", before the first point
    r = invoke("compare-dropout", "--dataset", "mnist-sample", "--epochs", 1, "--logdir", tmp_path, catch=True)
    assert r.exit_code != 0
    run = next((tmp_path / "compare-dropout").iterdir())
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "failed" and (run / "traceback.txt").exists()
    r = invoke("compare-dropout", "--dataset", "mnist-sample", "--seeds", 10**9, "--logdir", tmp_path / "b")
    assert r.exit_code == 2 and "1<=x<=1000" in r.output and not (tmp_path / "b").exists()


def test_load_checks_declared_sizes_against_the_tensors_before_allocating(models, tmp_path):
    import tracemalloc

    from revival.config import DBMConfig

    net = models["net"]
    ck = net.checkpoint()
    big = {**ck, "sizes": [784, 20000, 20000, 10]}  # 24 KB of tensors claiming 1.85 GB of weights
    torch.save(big, tmp_path / "big.pt")
    tracemalloc.start()
    with pytest.raises(ValueError, match=r"layers.0.weight is \(6, 784\), the declared sizes need \(20000, 784\)"):
        revival.load(tmp_path / "big.pt")
    assert tracemalloc.get_traced_memory()[1] < 50 * 2**20  # nothing near the declared size was allocated
    tracemalloc.stop()
    torch.save({**ck, "dropout": "0.5"}, tmp_path / "s.pt")
    with pytest.raises(ValueError, match="'dropout' must be a dict"):
        revival.load(tmp_path / "s.pt")
    bad = {k: v.clone() for k, v in ck["state_dict"].items()}
    bad["layers.0.weight"][0, 0] = float("nan")
    torch.save({**ck, "state_dict": bad}, tmp_path / "nan.pt")
    with pytest.raises(ValueError, match="layers.0.weight holds NaN"):
        revival.load(tmp_path / "nan.pt")
    sample = revival.load_dataset("mnist-sample", train_size=100)
    dbm, _ = revival.fit_dbm(sample.x_train, DBMConfig(layers=(6, 4), pretrain_epochs=1, epochs=0, device="cpu"))
    dck = dbm.checkpoint({}, {})
    sd = {k: v.clone() for k, v in dck["state_dict"].items()}
    sd["w2"][0, 0] = float("inf")
    torch.save({**dck, "state_dict": sd}, tmp_path / "dbm.pt")
    with pytest.raises(ValueError, match="w2 holds NaN, inf"):
        revival.load(tmp_path / "dbm.pt")
    torch.save({**dck, "layers": [784, 20000, 20000]}, tmp_path / "dbmbig.pt")
    with pytest.raises(ValueError, match="w1 is"):
        revival.load(tmp_path / "dbmbig.pt")


def test_the_sklearn_estimators_take_what_scikit_learns_take(sample):
    pytest.importorskip("sklearn")
    from sklearn.pipeline import Pipeline

    from revival.sklearn import DropoutNetClassifier, RBMTransformer

    pipe = Pipeline([("rbm", RBMTransformer(n_components=8, n_iter=1, random_state=0))]).set_output(transform="default")
    out = pipe.fit_transform(sample.x_train)
    assert out.shape == (len(sample.x_train), 8)
    assert list(pipe.get_feature_names_out()) == [f"rbmtransformer{i}" for i in range(8)]
    net = DropoutNetClassifier(hidden_layer_sizes=10, epochs=1, random_state=0).fit(sample.x_train, sample.y_train)
    assert net.net_.sizes == [784, 10, 10]  # an int is one hidden layer, as MLPClassifier reads it


def test_model_sampling_and_likelihood_refuse_what_they_cannot_do(models):
    for name in ("rbm", "dbn"):
        for kw, needle in (({"n": -1}, "n: expected a whole number"), ({"gibbs_steps": -5}, "gibbs_steps: expected")):
            with pytest.raises(ValueError, match=needle):
                models[name].sample(**kw)
    for name, hint in (("dbn", "dbn.rbms[k]"), ("net", "MLP")):
        with pytest.raises(TypeError, match="log_prob: takes an RBM or a DBM.*" + re.escape(hint)):
            revival.log_prob(models[name], np.zeros((2, 784), dtype=np.float32))


@pytest.mark.parametrize(
    "toml,needle",
    [
        ("epochs = true\n", "epochs = true: expected a value, not true/false"),
        ("train-size = 10\ntrain_size = 20\n", "'train_size' is given twice"),
        ("persistent = 1\n", "persistent = 1: expected true or false"),
    ],
)
def test_a_toml_config_is_checked_as_strictly_as_the_command_line(tmp_path, toml, needle):
    cfg = tmp_path / "c.toml"
    cfg.write_text(toml)
    r = invoke("pretrain-rbm", "--config", cfg, "--dataset", "mnist-sample", "--logdir", tmp_path)
    assert r.exit_code == 2 and needle in r.output, r.output


def test_a_data_dir_one_level_too_deep_gets_the_folder_above_named(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    (folder / "train-images-idx3-ubyte.gz").write_bytes(b"")  # as if the files were here
    r = invoke("pretrain-rbm", "--data-dir", folder, "--epochs", 1, "--logdir", tmp_path / "runs")
    assert r.exit_code != 0 and f"give --data-dir / REVIVAL_DATA_DIR the folder above it ({tmp_path})" in r.output


def test_an_init_the_run_would_refuse_is_refused_by_the_plan_too(tmp_path):
    args = ["--dataset", "mnist-sample", "--layers", "10,10", "--pretrain-epochs", 1, "--epochs", 1, "--ais-runs", 0]
    assert invoke("pretrain-dbm", *args, "--no-progress", "--no-figures", "--logdir", tmp_path).exit_code == 0
    dbm_run = next((tmp_path / "pretrain-dbm").iterdir())
    for extra in (["--plan"], ["--epochs", 1]):
        r = invoke("compare-dropout", "--dataset", "mnist-sample", "--variants", "pretrained", "--init", dbm_run,
                   *extra, "--logdir", tmp_path / "c")  # fmt: skip
        assert r.exit_code == 2 and "not a revival RBM or DBN checkpoint" in r.output, r.output
    assert not (tmp_path / "c").exists()


def test_a_finished_run_records_its_device_keeps_no_lock_and_logs_its_final_log_probability(tmp_path):
    from helpers import events

    r = invoke("pretrain-rbm", "--dataset", "mnist-sample", "--epochs", 1, "--hidden", 10, "--ais-betas", 200,
               "--no-progress", "--no-figures", "--logdir", tmp_path)  # fmt: skip
    assert r.exit_code == 0, r.output
    run = next((tmp_path / "pretrain-rbm").iterdir())
    cfg = json.loads((run / "config.json").read_text())["options"]
    assert cfg["device"] == "auto" and cfg["device_used"] == "cpu"
    assert not (run / ".lock").exists()
    lp = json.loads((run / "summary.json").read_text())["log_prob"]["avg_log_prob"]
    assert events(run).Scalars("rbm/log_prob/final_test")[0].value == pytest.approx(lp)


def test_a_successful_resume_clears_the_stale_traceback(tmp_path):
    args = ["--dataset", "mnist-sample", "--hidden", 10, "--ais-runs", 0, "--no-progress", "--no-figures"]
    assert invoke("pretrain-rbm", *args, "--epochs", 1, "--logdir", tmp_path).exit_code == 0
    run = next((tmp_path / "pretrain-rbm").iterdir())
    (run / "traceback.txt").write_text("an old failure")
    assert invoke("pretrain-rbm", "--resume", run, "--epochs", 2).exit_code == 0
    assert not (run / "traceback.txt").exists() and not (run / ".lock").exists()


def test_the_fits_show_progress_where_asked_and_choose_threads_as_the_commands_do(sample, capsys):
    cfg = NetConfig(layers=(4,), epochs=2, device="cpu")
    before = torch.get_num_threads()
    try:
        revival.fit_net(sample.x_train, sample.y_train, cfg, progress=True, threads=1)
        err = capsys.readouterr().err
        assert "fit_net" in err and "2/2" in err and torch.get_num_threads() == 1
        revival.fit_dbn(sample.x_train, DBNConfig(layers=(4, 4), epochs=1, device="cpu"), progress=None)
        assert capsys.readouterr().err == ""  # under pytest nobody watches: no bar
        revival.fit_rbm(sample.x_train, RBMConfig(n_hidden=4, epochs=1, device="cpu"), threads="auto")
        assert 1 <= torch.get_num_threads() <= 1024
        with pytest.raises(ValueError, match="threads: expected 'auto'"):
            revival.fit_rbm(sample.x_train, RBMConfig(n_hidden=4, epochs=1, device="cpu"), threads=0)
    finally:
        torch.set_num_threads(before)


def test_a_deleted_state_is_refused_on_resume_not_restarted_from_epoch_0(tmp_path):
    args = ["--dataset", "mnist-sample", "--hidden", 10, "--ais-runs", 0, "--no-progress", "--no-figures"]
    assert invoke("pretrain-rbm", *args, "--epochs", 1, "--logdir", tmp_path).exit_code == 0
    run = next((tmp_path / "pretrain-rbm").iterdir())
    (run / "state.pt").unlink()
    r = invoke("pretrain-rbm", "--resume", run, "--epochs", 3)
    assert r.exit_code == 2 and "holds model.pt but no state.pt" in r.output
    assert json.loads((run / "config.json").read_text())["options"]["epochs"] == 1


def test_a_run_logger_name_follows_the_commands_rule(tmp_path):
    for bad in ("a/b", "", "x" * 101, "tab\\there", 3):
        with pytest.raises(ValueError, match="RunLogger name"):
            revival.RunLogger(tmp_path, name=bad)
    assert revival.RunLogger(tmp_path, name="ok-1.2").name == "ok-1.2"


def test_a_library_resume_with_other_rows_of_the_same_width_is_refused(sample, tmp_path):
    cfg = RBMConfig(n_hidden=6, epochs=1, device="cpu")
    logger = revival.RunLogger(tmp_path, echo=lambda m: None)
    revival.fit_rbm(sample.x_train, cfg, logger=logger)
    longer = cfg.replace(epochs=2)
    with pytest.raises(ValueError, match="resumed with other training data than the run's"):
        revival.fit_rbm(sample.x_train[::-1], longer, logger=revival.RunLogger(resume=logger.path, echo=lambda m: None))
    revival.fit_rbm(
        sample.x_train, longer, logger=revival.RunLogger(resume=logger.path, echo=lambda m: None)
    )  # same rows: fine


def test_the_plan_times_each_pretraining_shape_once(monkeypatch):
    from revival.config import resolve_compare
    from revival.experiments import plan

    calls = []
    real = plan.rbm_seconds
    monkeypatch.setattr(plan, "rbm_seconds", lambda *a, **k: calls.append(a[:2]) or real(*a, **k))
    opts = resolve_compare(
        {
            "dataset": "mnist-sample",
            "variants": ["pretrained"],
            "layers": [16, 8],
            "train_sizes": [100, 200],
            "seeds": 3,
        }
    )
    cfg = CompareConfig.from_options({**opts, "seed": 0})
    rows = plan.plan(cfg, experiment.load_data(cfg, torch.device("cpu")), torch.device("cpu"))
    assert len(rows) == 6 and sorted(calls) == [(16, 8), (784, 16)]  # 6 (size, seed) stacks, 2 shapes timed


def test_the_pretraining_commands_have_a_row_in_the_hparams_dashboard(tmp_path):
    from helpers import plugin_events

    r = invoke("pretrain-rbm", "--dataset", "mnist-sample", "--epochs", 1, "--hidden", 10, "--ais-betas", 200,
               "--no-progress", "--no-figures", "--logdir", tmp_path)  # fmt: skip
    assert r.exit_code == 0, r.output
    run = next((tmp_path / "pretrain-rbm").iterdir())
    assert "_hparams_/session_start_info" in plugin_events(run).Tags()["tensors"]


def test_a_resume_state_from_another_kind_of_device_goes_on_seeded_from_it(sample, tmp_path, capsys):
    """A run saved on a GPU resumed on a CPU: a CUDA generator's state (16 bytes) cannot be set on a CPU
    generator (5,056 bytes). Simulated here on the CPU by rewriting the saved state to the CUDA size."""
    from revival.training.train import restore_generator

    g = torch.Generator()
    cuda_like = torch.arange(16, dtype=torch.uint8)
    assert restore_generator(g, cuda_like) is False
    assert "another kind of device (16 bytes" in capsys.readouterr().err
    again = torch.Generator()
    restore_generator(again, cuda_like, None)
    assert torch.equal(torch.rand(3, generator=g), torch.rand(3, generator=again))  # reproducible from the resume
    same = torch.Generator().manual_seed(5)
    state = same.get_state()
    other = torch.Generator()
    assert restore_generator(other, state) is True and torch.equal(other.get_state(), state)
    # a whole fit: its state.pt's generators replaced by CUDA-sized ones, then resumed on the CPU
    cfg = NetConfig(layers=(4,), epochs=1, device="cpu")
    logger = revival.RunLogger(tmp_path, echo=lambda m: None)
    revival.fit_net(sample.x_train, sample.y_train, cfg, logger=logger)
    st = torch.load(logger.path / "state.pt", weights_only=True)
    st["trainer"]["generator"] = st["trainer"]["noise"] = cuda_like
    torch.save(st, logger.path / "state.pt")
    net, h = revival.fit_net(
        sample.x_train,
        sample.y_train,
        cfg.replace(epochs=2),
        logger=revival.RunLogger(resume=logger.path, echo=lambda m: None),
    )
    assert h["epoch"] == [1, 2] and "another kind of device" in capsys.readouterr().err


def test_a_library_run_draws_the_figures_the_command_draws(sample, tmp_path):
    logger = revival.RunLogger(tmp_path, echo=lambda m: None, figures=True)  # the suite switches figures off
    revival.fit_rbm(sample.x_train, RBMConfig(n_hidden=8, epochs=1, device="cpu"), logger=logger)
    assert {p.name for p in (logger.path / "figures").glob("*.png")} >= {"curves.png", "filters.png", "samples.png"}
    assert "figures" in (logger.path / "summary.md").read_text()


def test_tensorboard_charts_carry_a_description_of_their_tag(tmp_path):
    from helpers import events

    r = invoke("compare-dropout", "--dataset", "mnist-sample", "--train-size", 200, "--layers", 16, "--epochs", 2,
               "--variants", "baseline", "--no-progress", "--no-figures", "--logdir", tmp_path)  # fmt: skip
    assert r.exit_code == 0, r.output
    ea = events(next((tmp_path / "compare-dropout").iterdir()) / "baseline")
    assert "choose settings on valid" in ea.SummaryMetadata("error/test").summary_description
    assert [e.step for e in ea.Scalars("error/test")] == [1, 2]  # still an ordinary scalar curve


def test_the_library_refuses_a_model_that_cannot_fit_in_memory_as_the_commands_do(sample):
    from revival.config import DBMConfig

    cases = [
        (revival.fit_rbm, (sample.x_train, RBMConfig(n_hidden=10**8, epochs=1, device="cpu")), "RBMConfig.n_hidden"),
        (
            revival.fit_dbn,
            (sample.x_train, DBNConfig(layers=(10**7, 10**7), epochs=1, device="cpu")),
            "DBNConfig.layers",
        ),
        (revival.fit_dbm, (sample.x_train, DBMConfig(layers=(10**7, 10**7), device="cpu")), "DBMConfig.layers"),
        (
            revival.fit_net,
            (sample.x_train, sample.y_train, NetConfig(layers=(10**8,), device="cpu")),
            "NetConfig.layers",
        ),
    ]
    for fit, args, field in cases:
        with pytest.raises(ValueError, match=f"{field}: .* GiB, more than this machine's"):
            fit(*args)
    r = invoke("pretrain-rbm", "--hidden", 10**8, "--dataset", "mnist-sample")
    assert r.exit_code == 2 and "GiB, more than this machine's" in r.output  # the same rule, named as an option


def test_a_dbm_log_prob_runs_the_estimator_asked_for(sample):
    from revival.config import DBMConfig

    dbm, _ = revival.fit_dbm(sample.x_train[:100], DBMConfig(layers=(6, 4), pretrain_epochs=1, epochs=1, device="cpu"))
    x = sample.x_test[:20]
    assert revival.log_prob(dbm, x)["method"] == "exact"  # small enough: enumerated
    ais = revival.log_prob(dbm, x, method="ais", ais_runs=20, ais_betas=200)
    assert ais["method"] == "ais" and "avg_log_prob_exact" not in ais  # asked for AIS: AIS, not minutes of enumeration
    with pytest.raises(ValueError, match="method: a DBM takes"):
        revival.log_prob(dbm, x, method="sandwich")


def test_the_plan_counts_the_monte_carlo_evaluation_of_dropout_nets():
    from revival.config import resolve_compare
    from revival.experiments import plan

    def seconds(mc):
        opts = resolve_compare({"dataset": "mnist-sample", "variants": ["dropout"], "layers": [32], "epochs": 1,
                                "mc_samples": mc})  # fmt: skip
        cfg = CompareConfig.from_options({**opts, "seed": 0})
        return plan.plan(cfg, experiment.load_data(cfg, torch.device("cpu")), torch.device("cpu"))[0]["seconds"]

    assert seconds(200) > seconds(0)  # 200 passes over the test set were missing from the estimate

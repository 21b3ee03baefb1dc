"""Model selection on the validation split: the epoch of lowest validation error and the test error
at it in every row, Keras-style restoring and early stopping (against a hand-computed curve), and a
run that trains on its validation images saying so instead of choosing on them."""

import json

import numpy as np
import pytest
import torch
from torch import nn

import revival
from helpers import invoke, only_run
from revival.config import NetConfig
from revival.training.netfit import NO_VALIDATION, Selection

# validation error per epoch, by hand: best 0.40 at epoch 2; epoch 4 ties it (a tie is no improvement),
# so with patience 2 Keras stops at epoch 4 (two epochs without improvement); without patience the
# lowest is 0.30 at epoch 5
CURVE = [0.50, 0.40, 0.45, 0.40, 0.30, 0.35, 0.36, 0.37]
TEST = [0.52, 0.43, 0.44, 0.42, 0.33, 0.31, 0.30, 0.29]


def run_curve(selection: Selection, model: nn.Module) -> list[int]:
    trained = []
    for epoch, (v, t) in enumerate(zip(CURVE, TEST), 1):
        if selection.stopped_epoch is not None:
            break
        with torch.no_grad():
            model.weight.fill_(epoch)  # the weights say which epoch they are from
        trained.append(epoch)
        selection.update(epoch, {"error/valid": v, "error/test": t}, model)
    selection.finish(model)
    return trained


@pytest.mark.parametrize(
    "restore,patience,trained,stopped,best,test_at_best,weights",
    [
        (False, None, 8, None, 5, 0.33, 8),  # the papers' fixed length: the last weights, the best epoch reported
        (True, None, 8, None, 5, 0.33, 5),  # restore_best without stopping: Keras 3 restores at the end anyway
        (False, 2, 4, 4, 2, 0.43, 4),  # patience 2: stopped at epoch 4, weights of epoch 4
        (True, 2, 4, 4, 2, 0.43, 2),  # both: stopped at 4, the weights of epoch 2
        (True, 3, 8, 8, 5, 0.33, 5),  # patience 3: epoch 5 improves in time; epoch 8 is 3 after it: stops there
        (True, 4, 8, None, 5, 0.33, 5),  # patience 4: the schedule ends first
    ],
)
def test_selection_follows_keras_early_stopping_on_a_hand_computed_curve(
    restore, patience, trained, stopped, best, test_at_best, weights
):
    sel, model = Selection(restore, patience), nn.Linear(2, 1)
    epochs = run_curve(sel, model)
    assert epochs[-1] == trained and sel.epoch == best
    assert sel.fields()["test_error_at_best_valid"] == test_at_best
    assert sel.stopped_epoch == stopped
    assert float(model.weight.detach()[0, 0]) == weights
    assert Selection().fields(validated=False) == {
        "best_valid_epoch": NO_VALIDATION,
        "test_error_at_best_valid": NO_VALIDATION,
    }


def test_fit_net_restores_and_stops_and_refuses_to_choose_without_validation():
    d = revival.load_dataset("mnist-sample", train_size=300)
    cfg = dict(layers=(16,), epochs=12, device="cpu", lr=0.5)
    data = (d.x_train, d.y_train)
    splits = dict(valid=(d.x_valid, d.y_valid), test=(d.x_test, d.y_test))
    plain, h = revival.fit_net(*data, NetConfig(**cfg), **splits)
    k = int(np.argmin(h["valid_error"]))  # the first epoch of the lowest validation error
    assert h.best_valid_epoch == h["epoch"][k] and h.test_error_at_best_valid == h["test_error"][k]
    assert not h.restored_best and h.stopped_epoch is None
    best, hb = revival.fit_net(*data, NetConfig(**cfg, restore_best=True), **splits)
    assert hb.restored_best and hb["valid_error"] == h["valid_error"]  # the same training, then restored
    assert np.mean(best.predict(d.x_test) != d.y_test) == pytest.approx(h["test_error"][k], abs=1e-6)
    _, hp = revival.fit_net(*data, NetConfig(**cfg, patience=1), **splits)
    assert hp.stopped_epoch == len(hp["epoch"]) and hp.stopped_epoch - hp.best_valid_epoch == 1
    assert hp["valid_error"] == h["valid_error"][: hp.stopped_epoch]
    with pytest.raises(ValueError, match="pass valid="):
        revival.fit_net(*data, NetConfig(**cfg, patience=2), test=splits["test"])
    _, hn = revival.fit_net(*data, NetConfig(**cfg), test=splits["test"])
    assert hn.best_valid_epoch is None and hn.test_error_at_best_valid is None


TINY = ["--dataset", "mnist-sample", "--layers", "32", "--mc-samples", "2", "--no-progress", "--lr", "0.5"]


def test_compare_dropout_rows_report_the_best_validation_epoch_and_can_stop_early(tmp_path):
    r = invoke(
        "compare-dropout", *TINY, "--train-size", 300, "--epochs", 10, "--patience", 2, "--restore-best",
        "--variants", "baseline,dropout", "--logdir", tmp_path,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    run = only_run(tmp_path, "compare-dropout")
    rows = {x["variant"]: x for x in json.loads((run / "summary.json").read_text())["rows"]}
    for v, row in rows.items():
        res = json.loads((run / v / "result.json").read_text())
        assert res["best_valid_epoch"] == row["best_valid_epoch"]
        assert row["restored_best"] and row["test_error"] == row["test_error_at_best_valid"]
        if "stopped_epoch" in row:
            assert f"[{v}] early stop" in r.output
            assert row["updates"] == row["stopped_epoch"] * 3  # 300 images at batch 100
    md = (run / "summary.md").read_text()
    assert "test err % at best valid epoch" in md and "test err % at best valid epoch" in r.output
    assert f"(epoch {rows['baseline']['best_valid_epoch']})" in md


def test_a_run_on_its_validation_images_says_it_has_no_validation_split(tmp_path):
    r = invoke(
        "compare-dropout", *TINY, "--epochs", 1, "--train-on-all", "--variants", "baseline", "--logdir", tmp_path
    )
    assert r.exit_code == 0, r.output
    run = only_run(tmp_path, "compare-dropout")
    row = json.loads((run / "summary.json").read_text())["rows"][0]
    assert row["best_valid_epoch"] == NO_VALIDATION == row["test_error_at_best_valid"]
    assert f"| {NO_VALIDATION} |" in (run / "summary.md").read_text()
    assert "valid (trained on) err" in r.output and " valid err" not in r.output  # the console says so too
    for flag in (["--patience", 3], ["--restore-best"]):
        r = invoke("compare-dropout", *TINY, "--epochs", 1, "--train-on-all", *flag, "--logdir", tmp_path / "x")
        assert r.exit_code == 2 and "which --train-on-all trains on" in r.output

"""Every failure a user can cause ends in one clear line naming the option or file, with exit 2 for
options and 1 at run time, and nothing partial left looking finished."""

import errno
import json
import subprocess
import sys

import pytest
import torch

from helpers import TINY_COMPARE as C
from helpers import TINY_DBN, handmade_checkpoint, one_error_line, only_run, run_cli
from helpers import TINY_RBM as R
from revival import runs
from revival.config import resolve_compare


@pytest.mark.parametrize(
    "args,option",
    [
        (["--hidden", "99999999999999999999"], "--hidden"),
        (["--hidden", "10000000000"], "--hidden"),
        (["--device", "tpu"], "--device"),
        (["--device", "cuda:abc"], "--device"),
        (["--device", ""], "--device"),
        (["--seed", str(2**64)], "--seed"),
        (["--name", "a/b"], "--name"),
        (["--name", "x" * 300], "--name"),
        (["--lr", "nan"], "--lr"),
        (["--momentum", "nan"], "--momentum"),
        (["--weight-decay", "inf"], "--weight-decay"),
        (["--dropout", "nan"], "--dropout"),
        (["--lr", "-inf"], "--lr"),
    ],
)
def test_bad_rbm_options_exit_2_naming_the_option(tmp_path, args, option):
    r = run_cli(*R, "--logdir", tmp_path, *args)
    assert r.exit_code == 2 and option in r.output and "Traceback" not in r.output, r.output
    assert not (tmp_path / "pretrain-rbm").exists()


@pytest.mark.parametrize(
    "args,option",
    [
        (["--layers", "100000000000"], "--layers"),
        (["--hidden-dropout", "nan"], "--hidden-dropout"),
        (["--dropout-rates", "0.5,nan"], "--dropout-rates"),
        (["--lr", "inf"], "--lr"),
        (["--depths", "0"], "--depths"),
    ],
)
def test_bad_compare_options_exit_2_naming_the_option(tmp_path, args, option):
    r = run_cli(*C, "--logdir", tmp_path, *args)
    assert r.exit_code == 2 and option in r.output and "Traceback" not in r.output, r.output


@pytest.mark.parametrize("args", [["--ais-betas", "10000000000"], ["--ais-runs", "100000000000"]])
def test_evaluate_rbm_refuses_impossible_ais_sizes(tmp_path, args):

    handmade_checkpoint(tmp_path / "m.pt")
    r = run_cli("evaluate-rbm", tmp_path / "m.pt", *args)
    assert r.exit_code == 2 and args[0] in r.output


@pytest.mark.parametrize(
    "content,needle",
    [
        (b"hidden = {a=1}\n", "expected a number"),
        (b'hidden = "\xff\xfe"\n', "cannot read"),
        (b"epochs = 1.5\n", "expected a whole number"),
    ],
)
def test_bad_config_files_exit_2(tmp_path, content, needle):
    (tmp_path / "c.toml").write_bytes(content)
    r = run_cli(*R, "--config", tmp_path / "c.toml", "--logdir", tmp_path / "runs")
    assert r.exit_code == 2 and needle in r.output and "--config" in r.output


def test_logdir_that_cannot_be_written_exits_2(tmp_path):
    (tmp_path / "file").write_text("x")
    for logdir in (tmp_path / "file" / "sub", "/proc/revival-test"):
        r = run_cli(*R, "--logdir", logdir)
        assert r.exit_code == 2 and "--logdir" in r.output and "cannot create a run folder" in r.output, r.output


def test_disk_full_is_one_line_and_keeps_state_and_model_consistent(tmp_path, monkeypatch):
    from revival.runs import folder

    real = folder.atomic_write_bytes
    writes = []

    def full_at_second_model(path, data):
        writes.append(path.name)
        if path.name == "model.pt" and writes.count("model.pt") == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data)

    monkeypatch.setattr(folder, "atomic_write_bytes", full_at_second_model)
    r = run_cli(*R, "--epochs", 3, "--logdir", tmp_path)
    assert r.exit_code == 1
    errors = [line for line in r.output.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and r.output.rstrip().endswith(errors[0]) and "Traceback" not in r.output
    line = errors[0]
    assert "disk full" in line and "model.pt" in line
    run = only_run(tmp_path, "pretrain-rbm")
    s = json.loads((run / "summary.json").read_text())
    assert s["status"] == "failed" and "disk full" in s["error"] and (run / "traceback.txt").is_file()
    # state.pt is written first: it is one epoch ahead of model.pt, and resume trusts it
    assert torch.load(run / "state.pt", weights_only=True)["epoch"] == 2
    assert torch.load(run / "model.pt", weights_only=True)["config"]["epochs_completed"] == 1
    monkeypatch.setattr(folder, "atomic_write_bytes", real)
    r = run_cli("pretrain-rbm", "--resume", run, "--no-progress")
    assert r.exit_code == 0 and "resuming" in r.output and "after epoch 2" in r.output, r.output
    assert torch.load(run / "model.pt", weights_only=True)["config"]["epochs_completed"] == 3


def test_checkpoint_with_bad_preprocessing_is_one_line(tmp_path):

    handmade_checkpoint(tmp_path / "m.pt", preprocessing=[1, 2])
    r = run_cli("evaluate-rbm", tmp_path / "m.pt", "--dataset", "mnist-sample")
    assert r.exit_code == 1 and "'preprocessing' must be a dict" in one_error_line(r.output)


def test_an_empty_data_dir_is_never_written(tmp_path):
    (tmp_path / "empty").mkdir()
    r = run_cli("pretrain-rbm", "--data-dir", tmp_path / "empty", "--logdir", tmp_path / "runs")
    assert r.exit_code == 1 and "--download" in one_error_line(r.output)
    assert list((tmp_path / "empty").iterdir()) == [] and not (tmp_path / "runs").exists()


def test_init_with_an_empty_stack_is_refused(tmp_path):
    torch.save({"format": "revival.dbn.v1", "layers": [], "preprocessing": {}}, tmp_path / "d.pt")
    r = run_cli(*C, "--variants", "pretrained", "--init", tmp_path / "d.pt", "--logdir", tmp_path / "runs")
    assert r.exit_code == 2 and "non-empty list 'layers'" in one_error_line(r.output)  # a bad --init: an option error


def test_names_that_are_not_utf8_or_hold_a_newline_are_refused_before_any_folder(tmp_path):
    for name in (b"caf\xff", b"two\nlines", b"tab\there"):
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "revival",
                "pretrain-rbm",
                "--dataset",
                "mnist-sample",
                "--epochs",
                "1",
                "--name",
                name,
                "--logdir",
                str(tmp_path),
            ],
            capture_output=True,
        )
        err = out.stderr.decode(errors="replace")
        assert out.returncode == 2 and "--name" in err and "Traceback" not in err, err
        assert not (tmp_path / "pretrain-rbm").exists()


def test_sweep_values_that_print_alike_are_refused_and_repeats_count_once(tmp_path):

    r = run_cli(*C, "--dropout-rates", "0.1,0.1000001", "--variants", "dropout", "--logdir", tmp_path)
    assert r.exit_code == 2 and "--dropout-rates" in r.output and "p0.1" in r.output
    assert not (tmp_path / "compare-dropout").exists()
    opts = resolve_compare(
        {
            "variants": ["baseline", "baseline", "dropout"],
            "dropout_rates": [0.5, 0.5, 0.2],
            "train_sizes": [100, 100],
            "depths": [1, 2, 1],
        }
    )
    assert opts["variants"] == ["baseline", "dropout"] and opts["dropout_rates"] == [0.5, 0.2]
    assert opts["train_sizes"] == [100] and opts["depths"] == [1, 2]


def test_the_resume_refusal_names_options_as_typed(tmp_path):
    assert run_cli(*C, "--variants", "baseline", "--epochs", 1, "--logdir", tmp_path).exit_code == 0
    r = run_cli("compare-dropout", "--resume", only_run(tmp_path, "compare-dropout"), "--lr", 1)
    assert r.exit_code == 2 and "--ray-address" in r.output and "--point-cpus" in r.output
    assert "--ray_address" not in r.output and "--point_cpus" not in r.output


def test_a_failed_write_names_the_file(tmp_path, monkeypatch):
    import os as _os

    from revival.runs import folder

    real = _os.fdopen

    def full(fd, *a, **k):
        f = real(fd, *a, **k)

        class Full:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                f.close()

            def write(self, data):
                raise OSError(errno.EFBIG, "File too large")

            def flush(self):
                pass

            def fileno(self):
                return f.fileno()

        return Full()

    monkeypatch.setattr(folder.os, "fdopen", full)
    with pytest.raises(OSError) as e:
        runs.atomic_write_bytes(tmp_path / "state.pt", b"x")
    assert runs.one_line(e.value) == f"{tmp_path / 'state.pt'}: File too large"
    assert list(tmp_path.iterdir()) == []


def test_bad_values_exit_2_naming_the_option_given(tmp_path):
    cases = [
        ([*C, "--train-sizes", "100,99999999"], "--train-sizes 99999999"),
        (["pretrain-rbm", "--dataset", "mnist-sample", "--train-size", "99999", "--epochs", "1"], "--train-size 99999"),
        ([*C, "--depths", "1,3000", "--width", "800"], "--depths"),
        ([*C, "--width", "32"], "--width"),
    ]
    for args, needle in cases:
        r = run_cli(*args, "--logdir", tmp_path)
        line = one_error_line(r.output)
        assert r.exit_code == 2 and needle in line and len(line) < 300, (args, r.output)
    assert "784-(3000 x 800)-10" in run_cli(*C, "--depths", "1,3000", "--width", "800", "--logdir", tmp_path).output
    assert not (tmp_path / "pretrain-rbm").exists() and not (tmp_path / "compare-dropout").exists()


def test_evaluate_rbm_names_what_is_wrong_with_exit_2(tmp_path):
    assert run_cli(*TINY_DBN, "--logdir", tmp_path).exit_code == 0
    dbn = only_run(tmp_path, "pretrain-dbn")
    r = run_cli("evaluate-rbm", dbn, "--layer", "99")
    assert r.exit_code == 2 and "--layer 99, but the DBN has layers 1..2" in r.output
    r = run_cli("evaluate-rbm", dbn, "--layer", "1", "--raise-examples", "10")
    assert r.exit_code == 2 and "--raise-examples" in r.output and "only with --method sandwich" in r.output
    assert run_cli(*C, "--variants", "baseline", "--epochs", 1, "--logdir", tmp_path).exit_code == 0
    r = run_cli("evaluate-rbm", only_run(tmp_path, "compare-dropout"))
    assert r.exit_code == 2 and "is a compare-dropout run" in r.output and "pretrain-n" in r.output

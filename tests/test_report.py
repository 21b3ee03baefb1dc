"""Figures drawn from a run's own files (`revival report` and the automatic figures)."""

import json

import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import copy_run
from helpers import invoke, only_run
from revival.cli import main
from revival.reporting import figures as F
from revival.reporting import panels as PAN
from revival.reporting import report as REP
from revival.reporting import summaries as SUM


def fake_compare_run(root, errors):
    """A compare-dropout run folder written by hand: known per-epoch errors for two variants,
    a train-size sweep in summary.json."""
    from torch.utils.tensorboard import SummaryWriter

    run = root / "compare-dropout" / "fake"
    run.mkdir(parents=True)
    (run / "config.json").write_text(
        json.dumps({"command": "compare-dropout", "options": {"preset": "quick", "train_sizes": [100, 1000]}})
    )
    rows, groups = [], []
    for i, (variant, (train, test)) in enumerate(errors.items()):
        for n in (100, 1000):
            name = f"{variant}-n{n}"
            (run / name).mkdir()
            with SummaryWriter(str(run / name)) as w:
                for step, (a, b) in enumerate(zip(train, test), 1):
                    w.add_scalar("error/train", a, step)
                    w.add_scalar("error/test", b, step)
                    w.add_scalar("loss/test", 2 * b, step)
            row = {
                "variant": variant,
                "train_size": n,
                "seed": 0,
                "hidden_dropout": 0.0,
                "depth": 1,
                "test_error": test[-1] / (1 + (n == 1000)),
                "train_error": train[-1],
            }
            (run / name / "result.json").write_text(json.dumps(row))
            rows.append(row)
            groups.append(
                {
                    "variant": variant,
                    "train_size": n,
                    "hidden_dropout": 0.0,
                    "depth": 1,
                    "seeds": 1,
                    "test_error": row["test_error"],
                    "test_error_std": 0.0,
                }
            )
    (run / "summary.json").write_text(json.dumps({"status": "finished", "rows": rows, "groups": groups}))
    (run / "summary.md").write_text("# compare-dropout: fake\n")
    return run


def test_figures_plot_the_runs_own_numbers(tmp_path):
    errors = {"baseline": ([0.5, 0.2, 0.0], [0.6, 0.3, 0.25]), "dropout": ([0.55, 0.3, 0.1], [0.6, 0.25, 0.15])}
    run = fake_compare_run(tmp_path, errors)
    panels = PAN.compare_panels(run, json.loads((run / "summary.json").read_text()), None, {"train_sizes": [100, 1000]})
    over = panels["overfitting-n100"]
    assert len(over.series) == 4  # train and test of two variants
    by_label = {s.label: s for s in over.series}
    assert list(by_label["baseline test"].y) == pytest.approx([60, 30, 25])
    assert list(by_label["dropout train"].y) == pytest.approx([55, 30, 10])
    assert by_label["baseline train"].line == "--" and by_label["baseline test"].line == "-"
    sweep = panels["error_vs_train_size"]
    assert sweep.logx and [s.label for s in sweep.series] == ["baseline", "dropout"]
    assert list(sweep.series[0].x) == [100, 1000] and list(sweep.series[0].y) == pytest.approx([25, 12.5])
    files, missing = REP.run_figures(run)
    assert not missing and {f.name for f in files} >= {"overfitting-n100.png", "error_vs_train_size.png"}
    for f in files:
        with Image.open(f) as im:
            assert im.format == "PNG" and im.size[0] >= 600 and im.size[1] >= 400


def test_pretrain_rbm_draws_its_figures_and_links_them(tmp_path):
    r = invoke(
        "pretrain-rbm",
        "--dataset",
        "mnist-sample",
        "--hidden",
        16,
        "--epochs",
        3,
        "--monitor-size",
        100,
        "--ais-every",
        1,
        "--ais-runs",
        5,
        "--ais-betas",
        100,
        "--logdir",
        tmp_path,
        "--no-progress",
        "--figures",
    )
    assert r.exit_code == 0, r.output
    run = only_run(tmp_path, "pretrain-rbm")
    names = {p.name for p in (run / "figures").iterdir()}
    assert names == {"curves.png", "filters.png", "samples.png", "reconstructions.png"}
    md = (run / "summary.md").read_text()
    assert "## figures" in md and "![curves](figures/curves.png)" in md
    from revival.reporting.panels import rbm_panels, read_scalars

    panels = rbm_panels(read_scalars(run), json.loads((run / "summary.json").read_text()).get("log_prob"))
    assert set(panels) == {"recon", "free_energy", "gap", "pll", "log_prob"}
    assert len(panels["free_energy"].series) == 2 and len(panels["recon"].series[0].y) == 3
    final = panels["log_prob"].series[-1]  # the final (exact) log-probability as a point at the last epoch
    assert final.label.startswith("final, exact") and final.x == [3]
    # reporting again replaces the section, never duplicates it
    assert invoke("report", run).exit_code == 0
    assert (run / "summary.md").read_text().count("## figures") == 1


def test_several_runs_overlay(tiny_runs, tmp_path):
    r = invoke("report", *tiny_runs["rbm"], "--out", tmp_path / "ov", "--svg")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "ov" / "overlay.png").is_file() and (tmp_path / "ov" / "overlay.svg").is_file()


def test_compare_runs_overlay_validation_beside_test(tmp_path, monkeypatch):
    """Runs that differ in one setting (a learning rate chosen on validation): the overlay draws each
    point's validation error beside its test error, the same point in one colour across runs."""
    from torch.utils.tensorboard import SummaryWriter

    a = fake_compare_run(tmp_path / "a", {"baseline": ([0.1, 0.05], [0.2, 0.1])})
    b = fake_compare_run(tmp_path / "b", {"baseline": ([0.1, 0.02], [0.2, 0.08])})
    with SummaryWriter(str(a / "baseline-n100")) as w:
        for step, v in ((1, 0.3), (2, 0.15)):
            w.add_scalar("error/valid", v, step)
    drawn, real = [], REP.draw  # the overlay draws through report's own name for it
    monkeypatch.setattr(REP, "draw", lambda panels, *a, **k: drawn.append(panels) or real(panels, *a, **k))
    assert invoke("report", a, b, "--out", tmp_path / "ov").exit_code == 0
    (panels,) = drawn[-1:]
    assert [p.title.split(" error")[0] for p in panels] == ["validation", "test"]
    assert [s.y for s in panels[0].series] == [pytest.approx([30.0, 15.0])]
    assert len(panels[1].series) == 4 and {s.colour for s in panels[1].series} == {0, 1}
    # a --train-on-all run trained on its validation images: their error is no validation error
    cfg = json.loads((a / "config.json").read_text())
    cfg["options"]["train_on_all"] = True
    (a / "config.json").write_text(json.dumps(cfg))
    assert invoke("report", a, b, "--out", tmp_path / "ov").exit_code == 0
    assert [p.title.split(" error")[0] for p in drawn[-1]] == ["test"]


def test_log_axis_labels_between_powers_of_ten_never_crowd():
    import matplotlib.pyplot as plt

    from revival.reporting.figures import _minor_label

    fig, ax = plt.subplots()
    ax.set_yscale("log")
    for (lo, hi), labelled in (
        ((1.1, 2.8), {1.25: "1.25", 1.5: "1.5", 2.5: "2.5"}),  # within a decade: all
        ((0.3, 20), {0.5: "0.5", 0.7: "", 2: "2", 3: ""}),  # up to two: 2 and 5 only
        ((0.006, 2.6), {0.02: "", 0.05: "", 0.7: ""}),  # more: none (0.01, 0.1, 1 are major)
    ):
        ax.set_ylim(lo, hi)
        assert {v: _minor_label(ax, v) for v in labelled} == labelled
    plt.close(fig)


def test_a_dbn_report_and_no_overlay_across_commands(tiny_runs, tmp_path):
    dbn = copy_run(tiny_runs["dbn"], tmp_path)
    assert invoke("report", dbn).exit_code == 0
    assert {p.name for p in (dbn / "figures").iterdir()} == {
        "curves.png",
        "dbn_samples.png",
        "layer-1_filters.png",
        "layer-2_filters.png",
    }
    r = CliRunner().invoke(main, ["report", str(tiny_runs["rbm"][0]), str(dbn)])
    assert r.exit_code == 2 and "cannot share axes" in r.output


def test_a_run_missing_files_gets_a_figureless_report_and_a_non_run_exits_2(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"command": "pretrain-rbm", "options": {}}))
    r = invoke("report", run)
    assert r.exit_code == 0 and "not drawn: curves: no data" in r.output and "no rbm/filters image" in r.output
    assert "- not drawn:" in (run / "summary.md").read_text()
    (tmp_path / "plain").mkdir()
    r = CliRunner().invoke(main, ["report", str(tmp_path / "plain")])
    assert r.exit_code == 2 and "not a revival run folder" in r.output


def test_log_prob_figure_plots_each_estimate_of_each_run():
    lps = [
        {
            "avg_log_prob": -120.0,
            "avg_log_prob_lower": -121.0,
            "avg_log_prob_upper": "inf",
            "ais_avg_log_prob_subset": -118.1,
            "raise_avg_log_prob": -126.0,
        },
        {"avg_log_prob": -103.4, "avg_log_prob_lower": -103.6, "avg_log_prob_upper": -103.1},
    ]
    fig = PAN.log_prob_figure(["CD-1", "CD-25"], lps, [(-125.53, "paper CD-1")])
    ax = fig.axes[0]
    markers = {line.get_label(): list(line.get_ydata()) for line in ax.lines if line.get_linestyle() == "None"}
    assert markers == {
        "AIS, all test images": [-120.0, -103.4],
        "AIS, RAISE's images": [-118.1],
        "RAISE (conservative), same images": [-126.0],
    }
    bars = [list(line.get_ydata()) for line in ax.lines if line.get_linestyle() == "-" and len(line.get_ydata()) == 2]
    assert [-103.6, -103.1] in bars and not any(-121.0 in b for b in bars)  # an infinite bound draws no bar


ERRS = {"baseline": ([0.5, 0.2, 0.0], [0.6, 0.3, 0.25]), "dropout": ([0.55, 0.3, 0.1], [0.6, 0.25, 0.15])}


def test_report_never_writes_through_a_link(tmp_path):
    run = fake_compare_run(tmp_path, ERRS)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (run / "figures").mkdir()
    (run / "figures" / "overfitting-n100.png").symlink_to(victim)
    r = CliRunner().invoke(main, ["report", str(run)])
    assert r.exit_code == 0, r.output
    assert victim.read_text() == "precious"  # the link was replaced by the figure, the file left alone
    assert not (run / "figures" / "overfitting-n100.png").is_symlink()
    assert Image.open(run / "figures" / "overfitting-n100.png").size[0] > 300
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "overfitting-n100.png").write_text("theirs")
    for p in sorted((run / "figures").iterdir()):
        p.unlink()
    (run / "figures").rmdir()
    (run / "figures").symlink_to(other)
    r = CliRunner().invoke(main, ["report", str(run)])
    assert r.exit_code == 2 and "figures: is a link" in r.output and "Traceback" not in r.output
    assert (other / "overfitting-n100.png").read_text() == "theirs" and len(list(other.iterdir())) == 1


@pytest.mark.parametrize(
    "damage,code,needle",
    [
        (lambda run: (run / "figures").write_text("x"), 2, "figures: is a file"),
        (lambda run: ((run / "summary.md").unlink(), (run / "summary.md").mkdir()), 2, "summary.md: is not a file"),
    ],
)
def test_report_refuses_a_damaged_run_in_one_line(tmp_path, damage, code, needle):
    run = fake_compare_run(tmp_path, ERRS)
    damage(run)
    r = CliRunner().invoke(main, ["report", str(run)])
    assert r.exit_code == code and needle in r.output and "Traceback" not in r.output, r.output
    assert not list(run.glob(".summary.md.*"))  # no temp file left behind


def test_report_out_that_cannot_be_a_folder_is_one_line(tmp_path):
    a, b = fake_compare_run(tmp_path / "a", ERRS), fake_compare_run(tmp_path / "b", ERRS)
    (tmp_path / "file").write_text("x")
    for out in (tmp_path / "file" / "sub", "/proc/revival-overlay"):
        r = CliRunner().invoke(main, ["report", str(a), str(b), "--out", str(out)])
        assert r.exit_code == 2 and "--out" in r.output and "Traceback" not in r.output, r.output


@pytest.mark.parametrize(
    "summary",
    [None, "{not json", json.dumps({"status": "interrupted"}), json.dumps({"status": "finished", "rows": []})],
)
def test_report_rebuilds_a_compare_run_from_its_points(tmp_path, summary):
    run = fake_compare_run(tmp_path, ERRS)
    if summary is None:
        (run / "summary.json").unlink()
    else:
        (run / "summary.json").write_text(summary)
    r = CliRunner().invoke(main, ["report", str(run)])
    assert r.exit_code == 0 and "Traceback" not in r.output, r.output
    assert (run / "figures" / "overfitting-n100.png").is_file()


def test_figures_do_not_mislead_at_first_sight():
    from revival.reporting import figures as F

    same = [
        F.Series("baseline test", [1, 2, 3], [5, 4, 3]),
        F.Series("weight-decay test", [1, 2, 3], [5, 4, 3]),
        F.Series("dropout test", [1, 2, 3], [6, 4, 2]),
    ]
    m = F.merged(same)
    assert [s.label for s in m] == ["baseline test = weight-decay test", "dropout test"]  # one line, one entry
    fig = F.draw([F.Panel("t", "epoch", "error %", same)])
    ax = fig.axes[0]
    assert all(float(t).is_integer() for t in ax.get_xticks())  # no "1.5" epochs
    assert len(ax.get_legend().get_texts()) == 2
    one = F.draw([F.Panel("t", "epoch", "nats", [F.Series("final", [5], [-120.0])])]).axes[0]
    assert [int(t) for t in one.get_xticks()] == [4, 5, 6]
    # dashed means train, and only train: a second layer's validation curve is solid
    panels = PAN.rbm_panels(
        {"rbm/free_energy/train": ([1, 2], [1.0, 2.0]), "rbm/free_energy/valid": ([1, 2], [1.0, 2.5])},
        None,
        "layer-2",
        1,
    )
    assert [s.line for s in panels["free_energy"].series] == ["--", "-"]
    assert [s.line for s in panels["gap"].series] == []


def test_the_final_log_probability_is_in_the_title_when_ais_ran_only_at_the_end():
    lp = {
        "avg_log_prob": -120.0,
        "method": "sandwich",
        "ais_betas": 14501,
        "raise_avg_log_prob": -121.0,
        "raise_examples": 300,
    }
    # no per-epoch curve: no panel spent on one point; the figure's title carries the numbers
    assert "log_prob" not in PAN.rbm_panels({"rbm/recon_error": ([1, 2, 3], [3.0, 2.0, 1.0])}, lp)
    title = PAN.final_log_prob_text(lp)
    assert "-120.00 nats (sandwich, 14,501 betas)" in title and "RAISE -121.00" in title
    # with --ais-every's curve, the final estimates join it at the last epoch
    scalars = {"rbm/recon_error": ([1, 2, 3], [3.0, 2.0, 1.0]), "rbm/log_prob/test": ([1, 3], [-130.0, -122.0])}
    p = PAN.rbm_panels(scalars, lp)["log_prob"]
    assert [(s.x, s.y) for s in p.series[1:]] == [([3], [-120.0]), ([3], [-121.0])]
    assert "14,501 betas" in p.series[1].label and "RAISE on 300 images" in p.series[2].label


def test_image_grids_are_drawn_large_with_a_title_and_labelled_pairs(tmp_path):
    import io

    from revival.reporting import figures as F

    buf = io.BytesIO()
    Image.new("L", (291, 291), 128).save(buf, format="PNG")
    fig = F.image_figure(buf.getvalue(), "pretrain-rbm X: reconstructions", "pairs side by side", ["data", "recon"] * 5)
    ax = fig.axes[0]
    assert ax.get_title() == "pretrain-rbm X: reconstructions"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["data", "recon"] * 5
    path = F.save(fig, tmp_path, "r")[0]
    assert min(Image.open(path).size) >= 500


def test_report_of_a_resumed_run_prints_no_tensorboard_purge_warnings(tiny_runs, tmp_path, caplog):
    from torch.utils.tensorboard import SummaryWriter

    run = copy_run(tiny_runs["rbm"][0], tmp_path)
    with SummaryWriter(str(run)) as w:  # what a resumed run leaves: a step written again after a later one
        w.add_scalar("rbm/recon_error", 1.0, 1)
    PAN._EVENTS.clear()
    caplog.clear()
    assert invoke("report", run).exit_code == 0
    assert not [r for r in caplog.records if "out of order" in r.getMessage()]


def test_a_depth_sweep_draws_the_papers_per_depth_figures_and_no_lone_classic_panel(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    from revival.presets import PRESETS

    run = tmp_path / "compare-dropout" / "r"
    run.mkdir(parents=True)
    rows = []
    for name, v, d, err in (
        ("baseline-d1", "baseline", 1, 0.0435),
        ("pretrained-d3", "pretrained", 3, 0.0288),
        ("baseline-d3", "baseline", 3, 0.0491),
        ("pretrained-d1", "pretrained", 1, 0.0319),
        ("svm-rbf", "svm-rbf", None, 0.0321),
    ):
        (run / name).mkdir()
        with SummaryWriter(str(run / name)) as w:
            for step in (1, 2) if v != "svm-rbf" else (2,):
                w.add_scalar("error/train", 0.0, step)
                w.add_scalar("error/test", err, step)
        row = {
            "variant": v,
            "train_size": 10_000,
            "seed": 0,
            "depth": d,
            "hidden_dropout": 0.0,
            "train_error": 0.0,
            "valid_error": err,
            "test_error": err,
            "generalization_gap": err,
            "test_loss": 0.1,
            "test_loss_min": 0.1,
        }
        (run / name / "result.json").write_text(json.dumps(row))
        rows.append(row)
    preset = PRESETS["larochelle2007"]
    summary = {"rows": rows, "groups": SUM.group_rows(rows, preset)}
    panels = PAN.compare_panels(run, summary, preset, {"depths": [1, 3]})
    assert "overfitting" not in panels and {"overfitting-d1", "overfitting-d3"} <= set(panels)
    depth = panels["error_vs_depth"]
    assert all(s.line in ("-", "none") for s in depth.series)  # dashed only ever means training data
    marks = {s.label: (s.x, s.y) for s in depth.series if s.line == "none"}
    assert marks["paper: pretrained at 3 layers 3.11%"] == ([3], [3.11])
    assert any(label == "ours: svm-rbf 3.21%" for _, label, _ in depth.hlines)


def test_per_layer_figures_read_as_layers_with_words_in_the_legend():
    groups = [
        {"variant": "baseline", "hidden_dropout": 0.0, "saturated": [0.1, 0.2], "activation_mean": [0.3, 0.2], "grad_norm": [1.0, 0.5, 0.2]},
        {"variant": "dropout", "hidden_dropout": 0.5, "saturated": [0.0, 0.1], "activation_mean": [0.2, 0.1], "grad_norm": [1.0, 0.6, 0.3]},
    ]  # fmt: skip
    panels = PAN.layer_panels(groups)
    labels = [s.label for s in panels["saturation_by_layer"].series]
    assert labels == ["baseline, hidden drop 0", "dropout, hidden drop 0.5"]
    fig = F.draw([panels["activation_mean_by_layer"]])
    assert [int(t) for t in fig.axes[0].get_xticks()] == [1, 2]  # two layers: ticks 1 and 2, no empty 0 or 3


def test_a_dbm_figure_shows_noise_as_noise_and_a_collapse_as_one():
    scalars = {
        "dbm/bound_gap": ([1, 2, 3], [-1.80, -1.75, -1.82]),  # 0.07 nats of noise
        "dbm/varying_h1": ([1, 2, 3], [1.0, 0.9, 0.7]),
        "dbm/varying_h2": ([1, 2, 3], [1.0, 0.6, 0.2]),
    }
    panels = PAN.dbm_panels(scalars)
    gap, varying = panels[2], panels[3]
    lo, hi = F.draw([gap]).axes[0].get_ylim()
    assert hi - lo >= 2.0  # not autoscaled to 0.07 nats, where noise reads as a trend
    assert F.draw([varying]).axes[0].get_ylim() == (0.0, 1.05)  # a share, on its whole range


def test_a_curve_that_another_covers_is_drawn_wider_beneath_it():
    base = F.Series("baseline", [1, 2, 3, 4], [10.0, 8.0, 7.0, 7.5])
    decay = F.Series("weight-decay", [1, 2, 3, 4], [10.05, 8.02, 7.01, 7.4])  # the same within 2% of the range
    drop = F.Series("dropout", [1, 2, 3, 4], [12.0, 9.0, 6.0, 5.0], style=1)
    assert F._underneath([base, decay, drop]) == {0}
    lines = F.draw([F.Panel("t", "epoch", "error %", [base, decay, drop])]).axes[0].get_lines()
    widths = {line.get_label(): line.get_linewidth() for line in lines}
    assert widths["baseline"] > widths["weight-decay"] == widths["dropout"]

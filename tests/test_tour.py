"""docs/tour.ipynb: committed with the outputs of a run (scripts/make_tour.py runs it in quick mode
before each commit of it), and every cell still runs without an error, in quick mode with the library's
training runs cut short so that the check takes seconds, not the quick mode's two minutes."""

import json
import os
import re
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).parent.parent / "docs" / "tour.ipynb"


def test_the_tour_was_committed_executed():
    nb = json.loads(NOTEBOOK.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert len(code) >= 8
    for i, cell in enumerate(code):
        assert cell.get("outputs"), f"code cell {i} has no saved output: run `python scripts/make_tour.py`"
        assert not [o for o in cell["outputs"] if o.get("output_type") == "error"], f"code cell {i} saved an error"
    images = [o for c in code for o in c["outputs"] if "image/png" in o.get("data", {})]
    assert len(images) >= 7  # one figure or more per section
    # its last section shows docs/results.md's scoreboard rows as they are now, and only those
    saved = "".join(
        "".join(o["data"]["text/markdown"]) for o in code[-1]["outputs"] if "text/markdown" in o.get("data", {})
    )  # saved as a string or as a list of lines
    shown = [line.split("|")[1:5] for line in saved.splitlines()[2:]]
    results = (NOTEBOOK.parent / "results.md").read_text().splitlines()
    rows = [line.split("|")[1:5] for line in results if re.match(r"\| R\d+ \|", line)]
    assert rows and shown == rows, "docs/results.md's scoreboard changed: run `python scripts/make_tour.py`"


# Run before the notebook's own cells, in its kernel: every fit of the library trains at most 2 epochs
# and AIS uses at most 100 betas. The notebook's code, figures and printing all run as written; only
# the numbers differ from the committed quick-mode outputs.
SHORTEN = """
import dataclasses, functools
import revival

def _shorter(fit):
    @functools.wraps(fit)
    def run(*args, **kw):
        args = [dataclasses.replace(a, epochs=min(a.epochs, 2)) if hasattr(a, "epochs") else a for a in args]
        if "ais_betas" in kw:
            kw["ais_betas"] = min(kw["ais_betas"], 100)
        return fit(*args, **kw)
    return run

for _name in ("fit_rbm", "fit_dbn", "fit_net", "fit_dbm", "log_prob"):
    setattr(revival, _name, _shorter(getattr(revival, _name)))
"""


@pytest.mark.slow
def test_the_tour_runs_in_quick_mode(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="the tour extra: pip install -e '.[tour]'")
    nbclient = pytest.importorskip("nbclient", reason="the tour extra: pip install -e '.[tour]'")
    pytest.importorskip("ipykernel", reason="the tour extra: pip install -e '.[tour]'")
    monkeypatch.setenv("REVIVAL_TOUR_QUICK", "1")
    monkeypatch.setenv("REVIVAL_TOUR_FIGURES", str(tmp_path))  # the docs' figures stay as committed
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(SHORTEN))
    nbclient.NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()  # raises on a cell error
    assert len(list(tmp_path.glob("tour-*.png"))) >= 7
    assert os.environ["REVIVAL_TOUR_QUICK"] == "1"

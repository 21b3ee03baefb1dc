"""docs/tour.ipynb: committed with the outputs of a run, and it runs, in quick mode, without an error."""

import json
import os
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


@pytest.mark.slow
def test_the_tour_runs_in_quick_mode(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="the tour extra: pip install -e '.[tour]'")
    nbclient = pytest.importorskip("nbclient", reason="the tour extra: pip install -e '.[tour]'")
    pytest.importorskip("ipykernel", reason="the tour extra: pip install -e '.[tour]'")
    monkeypatch.setenv("REVIVAL_TOUR_QUICK", "1")
    monkeypatch.setenv("REVIVAL_TOUR_FIGURES", str(tmp_path))  # the docs' figures stay as committed
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()  # raises on a cell error
    assert len(list(tmp_path.glob("tour-*.png"))) >= 7
    assert os.environ["REVIVAL_TOUR_QUICK"] == "1"

"""docs/notebook.ipynb, executed in a real Jupyter kernel (nbclient + ipykernel)."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.conftest import ROOT

nbformat = pytest.importorskip("nbformat", reason="the notebook test needs the test extra")
nbclient = pytest.importorskip("nbclient", reason="the notebook test needs the test extra")

NOTEBOOK = ROOT / "docs" / "notebook.ipynb"


@pytest.fixture(scope="module")
def executed() -> Any:
    """The notebook after one run in a fresh kernel, started in docs/ as Jupyter would."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": NOTEBOOK.parent}},
    )
    client.execute()
    return notebook


def outputs(cell: Any, kind: str) -> list[Any]:
    found = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "error":
            raise AssertionError(f"{out['ename']}: {out['evalue']}")
        if kind == "stream" and out["output_type"] == "stream":
            found.append(out["text"])
        elif out["output_type"] in ("execute_result", "display_data") and kind in out["data"]:
            found.append(out["data"][kind])
    return found


def cell_with(notebook: Any, text: str) -> Any:
    (cell,) = [c for c in notebook.cells if c.cell_type == "code" and text in c.source]
    return cell


def test_every_cell_runs_without_error(executed: Any) -> None:
    for cell in executed.cells:
        if cell.cell_type == "code":
            outputs(cell, "text/plain")


@pytest.mark.parametrize("source", ["run = seed.run()", "ours = optrace.Race(", "model=net, data="])
def test_races_play_inline_as_a_player(executed: Any, source: str) -> None:
    (html,) = outputs(cell_with(executed, source), "text/html")
    assert 'class="optrace-player' in html and "<html" not in html
    # The player's static figure: one PNG of the configured size.
    match = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)
    assert match, html[:200]
    with Image.open(io.BytesIO(base64.b64decode(match.group(1)))) as background:
        assert background.size == (640, 480)


def test_the_notebook_traces_equal_the_cli_csv(executed: Any, invoke: Any, tmp_path: Path) -> None:
    (text,) = outputs(cell_with(executed, "json.dumps"), "stream")
    traced = json.loads(text)
    result = invoke("run", ROOT / "configs" / "seed.yaml", "--traces", tmp_path / "seed.csv")
    assert result.exit_code == 0
    with open(tmp_path / "seed.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(traced) == ["SGD", "Adam", "Adagrad", "Adadelta", "RMSprop"]
    for label, xs in traced.items():
        assert xs == [float(r["x"]) for r in rows if r["racer"] == label]


def test_the_student_optimizer_races_and_the_still_shows(executed: Any) -> None:
    (html,) = outputs(cell_with(executed, "class SignSGD"), "text/html")
    assert "sign descent against momentum" in html
    (png,) = outputs(cell_with(executed, "valley.save"), "image/png")
    with Image.open(io.BytesIO(base64.b64decode(png))) as still:
        assert still.size == (640, 720)

"""The analyst notebook runs top to bottom on a lake with published tables."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from reportworld import SNAP, World

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "analyst_walkthrough.ipynb"


def _outputs_text(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts.append(json.dumps(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


@pytest.mark.slow
def test_notebook_executes_on_published_tables(
    report_world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert report_world.exit_code == 0
    # The kernel is a fresh process: it reads its parameters from the environment and
    # starts its own local Spark with this interpreter.
    monkeypatch.setenv("TELCOSEG_CONF", str(report_world.conf))
    monkeypatch.setenv("TELCOSEG_SNAPSHOT", SNAP.isoformat())
    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)
    monkeypatch.delenv("PYSPARK_GATEWAY_PORT", raising=False)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(REPO / "notebooks")}},
    )
    client.execute()  # raises CellExecutionError naming the cell on any error
    out = tmp_path / "analyst_walkthrough.executed.ipynb"
    nbformat.write(nb, out)  # kept with the test's tmp files for a look
    text = _outputs_text(nb)
    # Every section found its table: segment ids, the migration's "new" row, the
    # ledger's releases, and the report file.
    assert "M0" in text and "looking at 2026-03-31" in text
    assert "segment_sizes" in text and "fairness_audit" in text
    assert "exists" in text and "not built yet" not in text
    assert "no profiles published" not in text
    assert os.path.exists(report_world.root / "artifacts" / "report")

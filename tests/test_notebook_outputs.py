"""The notebooks as a user sees them: executed by a real kernel (nbclient), their plots are in the outputs, not
only in files (once, a backend switch made every plot vanish from executed notebooks under a green nbmake)."""
import os
import pathlib

import pytest

NOTEBOOKS = pathlib.Path(__file__).resolve().parent.parent / "notebooks"


def images(nb) -> int:
    return sum("image/png" in out.get("data", {}) for cell in nb.cells if cell.cell_type == "code"
               for out in cell.get("outputs", []))


def test_an_executed_experiment_notebook_shows_its_plots(monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("PADDLE_CNN_PROFILE", "smoke")
    nb = nbformat.read(NOTEBOOKS / "03_pool_vs_stride2_mnist.ipynb", as_version=4)
    for cell in nb.cells:
        cell.pop("outputs", None) if cell.cell_type != "code" else cell.update(outputs=[])
    assert images(nb) == 0
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    assert images(nb) >= 2  # the curves and the final accuracies
    saved = NOTEBOOKS.parent / "logs" / "smoke" / "pool-vs-stride"
    assert all(os.path.getsize(saved / f) > 0 for f in ("curves.png", "final.png"))  # and on disk


def test_the_committed_arithmetic_notebook_shows_its_scatter():
    nbformat = pytest.importorskip("nbformat")
    assert images(nbformat.read(NOTEBOOKS / "00_layer_arithmetic.ipynb", as_version=4)) >= 1


def test_every_notebook_has_a_parameters_cell():
    """papermill drives the cell tagged `parameters`; it holds only assignments."""
    import ast
    nbformat = pytest.importorskip("nbformat")
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        cells = [c for c in nbformat.read(path, as_version=4).cells if "parameters" in c.metadata.get("tags", [])]
        assert len(cells) == 1, path.name
        body = ast.parse(cells[0].source).body
        assert body and all(isinstance(node, ast.Assign) for node in body), path.name

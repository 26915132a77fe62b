"""The analyst notebooks (``notebooks/*.ipynb``): each runs top to bottom in a real Jupyter kernel, as
stored, and is stored clean (no outputs, no execution counts), so the repository stays diffable.

The kernel is this interpreter (``sys.executable``), whatever kernels the machine has registered: the
test puts a ``python3`` kernelspec pointing at it first on ``JUPYTER_PATH``. A notebook's kernel starts
in the notebook's folder, as Jupyter does (``make notebooks`` starts Jupyter Lab from the repository's
root), so notebooks name the repository's files as ``../scenarios/…``.

Run with ``-s`` to see each notebook's execution time (also recorded as the test's
``execution_seconds`` property, in ``--junitxml`` reports): printed, never asserted — a loaded machine is
slow, not wrong; a generous per-cell timeout only guards against a hang.
"""

from __future__ import annotations

import json
import re
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
CELL_TIMEOUT = 900  # seconds one cell may take: a guard against a hang, not a speed target (times are printed)
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _ids(paths: list[Path]) -> list[str]:
    return [path.stem for path in paths]


@pytest.fixture(scope="session")
def jupyter_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A JUPYTER_PATH folder whose ``python3`` kernel is this interpreter (ipykernel installed in it)."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    spec.joinpath("kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (convsim tests)",
        "language": "python",
    }))
    return root


@pytest.fixture
def kernel_env(jupyter_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel's environment: our kernelspec first, and no user IPython profile or matplotlib backend
    setting that would make a run here differ from a run on a clean machine."""
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter_path))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # debugpy's note on frozen modules
    monkeypatch.delenv("MPLBACKEND", raising=False)


def stored_dirt(notebook: dict[str, Any]) -> list[str]:
    """What a notebook stores that it should not: its code cells' outputs and execution counts."""
    problems = []
    for number, cell in enumerate(notebook.get("cells", []), 1):
        if cell.get("cell_type") != "code":
            continue
        if cell.get("outputs"):
            problems.append(f"cell {number} has {len(cell['outputs'])} output(s)")
        if cell.get("execution_count") is not None:
            problems.append(f"cell {number} has execution count {cell['execution_count']}")
    return problems


def layout_problems(notebook: dict[str, Any]) -> list[str]:
    """The notebooks' shared layout: a markdown cell with the question first, then a code cell tagged
    ``parameters`` (papermill's convention) that sizes the run."""
    cells = notebook.get("cells", [])
    problems = []
    if not cells or cells[0].get("cell_type") != "markdown" or not "".join(cells[0]["source"]).startswith("# "):
        problems.append("the first cell is not a markdown cell with the question as its '# ' title")
    if not any(cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get("tags", [])
               for cell in cells):
        problems.append("no code cell is tagged 'parameters'")
    return problems


def test_there_are_notebooks() -> None:
    assert PATHS, f"no notebooks in {NOTEBOOKS}"


@pytest.mark.parametrize("path", PATHS, ids=_ids(PATHS))
def test_notebook_is_stored_clean(path: Path) -> None:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    nbformat.validate(notebook)
    problems = stored_dirt(notebook) + layout_problems(notebook)
    assert not problems, (f"{path.name}: {'; '.join(problems)}. Clear the outputs before committing "
                          "(Jupyter Lab: Edit > Clear Outputs of All Cells, then save).")


def test_stored_clean_check_catches_an_executed_notebook() -> None:
    executed = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# A question?"),
        nbformat.v4.new_code_cell("N = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("1 + 1", execution_count=3, outputs=[
            nbformat.v4.new_output("execute_result", data={"text/plain": "2"}, execution_count=3)]),
    ])
    assert stored_dirt(executed) == ["cell 3 has 1 output(s)", "cell 3 has execution count 3"]
    assert layout_problems(executed) == []
    assert len(layout_problems(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")]))) == 2


@pytest.mark.usefixtures("kernel_env")
@pytest.mark.parametrize("path", PATHS, ids=_ids(PATHS))
def test_notebook_runs(path: Path, record_property: Any) -> None:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    started = time.perf_counter()
    failure = None
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as error:  # the message shows the cell
        failure = ANSI.sub("", str(error))
    if failure is not None:  # outside the except block, so the report is ours alone, without ANSI colours
        pytest.fail(f"{path.name} failed:\n{failure}", pytrace=False)
    elapsed = time.perf_counter() - started
    record_property("execution_seconds", round(elapsed, 1))
    print(f"\n{path.name}: executed in {elapsed:.1f} s")
    for number, cell in enumerate(notebook.cells, 1):
        for output in cell.get("outputs", []):
            if output.get("name") == "stderr":  # shown to the analyst: worth a look, not a failure
                warnings.warn(f"{path.name}, cell {number} wrote to stderr: {ANSI.sub('', output['text'])[:500]}",
                              stacklevel=1)

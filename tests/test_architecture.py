"""The layers of ARCHITECTURE.md and the project's lint, checked on every test run."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "ganzoo"


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return found


def test_import_contracts_hold():
    """Layers and no cycles (pyproject.toml's [tool.importlinter]); `lint-imports` counts
    every import, function-level ones too."""
    result = subprocess.run(
        [_tool("lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_ruff_is_clean():
    result = subprocess.run([_tool("ruff"), "check", "."], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]


def test_the_code_is_formatted_by_ruff():
    result = subprocess.run(
        [_tool("ruff"), "format", "--check", "."], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"run `ruff format .`:\n{result.stdout[-3000:]}"


def _own_function_level_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    for node in tree.body:  # `if TYPE_CHECKING:` blocks are module level
        if isinstance(node, ast.If):
            top |= {id(inner) for inner in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if id(node) in top:
            continue
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("ganzoo")):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
        elif isinstance(node, ast.Import) and any(a.name.startswith("ganzoo") for a in node.names):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_no_function_level_imports_of_ganzoo_itself():
    """The layers make every own import a module-level one: a function-level import of ganzoo
    would hide a cycle from a reader (import-linter sees it either way)."""
    found = [hit for path in sorted(PACKAGE.rglob("*.py")) for hit in _own_function_level_imports(path)]
    assert found == []


def test_package_inits_hold_only_their_docstring():
    """`ganzoo/__init__.py` is the (lazy) public API, and `ganzoo/testing/__init__.py` the one plugin
    authors' tests import (`from ganzoo.testing import check_architecture`), re-exports alone; every
    other package's __init__ only says what its modules are, so importing one module never imports
    its siblings."""
    for init in sorted(PACKAGE.rglob("__init__.py")):
        if init == PACKAGE / "__init__.py":
            continue
        docstring, *rest = ast.parse(init.read_text()).body
        assert isinstance(docstring, ast.Expr), init
        if init == PACKAGE / "testing" / "__init__.py":
            assert all(
                (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ganzoo.testing."))
                or (isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "__all__")
                or (isinstance(node, ast.ImportFrom) and node.module == "__future__")
                for node in rest
            ), init
        else:
            assert rest == [], init


def test_no_relative_imports():
    """Absolute imports name the layer they reach into; ARCHITECTURE.md's rules read off them."""
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            assert not (isinstance(node, ast.ImportFrom) and node.level), f"{path}:{node.lineno}"


@pytest.mark.slow
def test_mypy_is_clean():
    """pyproject.toml's [tool.mypy]: the modules not yet typed are listed there, and only leave."""
    result = subprocess.run([_tool("mypy")], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:]

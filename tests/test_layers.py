"""The layers of docs/layout.md, checked by import-linter (.importlinter, written by
tools/restructure.py): each layer imports only the layers below it, the core never imports
files, training, tools or the command line, nnaccel never imports the tests or benchmarks."""

import ast
import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "nnaccel"
CONFIG = ROOT / ".importlinter"
restructured = pytest.mark.skipif(not (PACKAGE / "core").is_dir(),
                                  reason="the flat layout: run python tools/restructure.py first")


def _lint(root):
    pytest.importorskip("importlinter")
    env = dict(os.environ, PYTHONPATH=str(root))
    command = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
               "sys.exit(lint_imports_command())", "--config", str(root / ".importlinter"), "--no-cache"]
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=600)


def _layers():
    config = configparser.ConfigParser()
    config.read(CONFIG)
    return [name.strip() for name in config["importlinter:contract:layers"]["layers"].split("\n") if name.strip()]


@restructured
def test_lint_imports_keeps_every_contract():
    r = _lint(ROOT)
    assert r.returncode == 0, r.stdout + r.stderr


@restructured
def test_an_upward_import_breaks_the_layers_contract(tmp_path):
    """The contract can fail: plant `core → training` in a copy and lint-imports refuses it."""
    for folder in ("nnaccel", "tests", "benchmarks", "reference"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    shutil.copy(CONFIG, tmp_path / ".importlinter")
    costs = tmp_path / "nnaccel" / "core" / "costs.py"
    costs.write_text(costs.read_text() + "\nfrom ..training import trainer  # planted\n")
    r = _lint(tmp_path)
    assert r.returncode != 0
    assert "nnaccel.core.costs -> nnaccel.training.trainer" in r.stdout, r.stdout


@restructured
def test_the_contract_names_every_subpackage_as_a_layer():
    """A new subpackage or top-level module gets a place in the layers, or this fails."""
    top = {p.stem for p in PACKAGE.glob("*.py")} | {p.name for p in PACKAGE.iterdir()
                                                     if (p / "__init__.py").is_file()}
    top -= {"__init__", "__main__", "_version"}
    assert {f"nnaccel.{name}" for name in top} == set(_layers())


def _function_imports(path):
    tree = ast.parse(path.read_text())
    for func in ast.walk(tree):
        if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(func):
                if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("nnaccel")):
                    yield node.lineno, "." * node.level + (node.module or "")
                elif isinstance(node, ast.Import):
                    yield from ((node.lineno, a.name) for a in node.names if a.name.startswith("nnaccel"))


def test_nnaccel_imports_its_own_modules_at_the_top():
    """Imports inside functions are for optional dependencies only. The exceptions: the command
    installs its signal handlers before it loads anything (__main__), and the compiled kernels
    are optional (a build without a C compiler has none)."""
    allowed = {("__main__.py", ".cli"), ("c_epoch.py", ".")}
    found = [f"{p.relative_to(ROOT)}:{line} {name}" for p in sorted(PACKAGE.rglob("*.py"))
             for line, name in _function_imports(p) if (p.name, name) not in allowed]
    assert found == []


def _standard_imports(path):
    """(line, module) of every import of the standard library or NumPy inside a function."""
    tree = ast.parse(path.read_text())
    for func in ast.walk(tree):
        if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(func):
                names = ([node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                         else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
                yield from ((node.lineno, n) for n in names
                            if n.split(".")[0] in sys.stdlib_module_names or n.split(".")[0] == "numpy")


@restructured
def test_the_standard_library_is_imported_at_the_top():
    """Inside a function only an optional dependency: the standard library is always there, and
    NumPy too, except where `import nnaccel` must stay free of array libraries (the one writer
    of archives, which the command's first lines import)."""
    allowed = {("_files.py", "numpy")}
    found = [f"{p.relative_to(ROOT)}:{line} {name}" for p in sorted(PACKAGE.rglob("*.py"))
             for line, name in _standard_imports(p) if (p.name, name) not in allowed]
    assert found == []


def test_import_nnaccel_loads_no_array_library_and_exports_by_name():
    """`import nnaccel` stays small (the command answers Ctrl-C before NumPy loads); the public
    names resolve on first use; any other name is an AttributeError, not a hidden import."""
    code = ("import sys, nnaccel; assert 'numpy' not in sys.modules, 'numpy'; "
            "[getattr(nnaccel, n) for n in nnaccel.__all__]; "
            "assert callable(nnaccel.load) and nnaccel.Network.__name__ == 'Network'\n"
            "try:\n    nnaccel.no_such_name\nexcept AttributeError:\n    print('ok')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.stdout.strip() == "ok", r.stderr

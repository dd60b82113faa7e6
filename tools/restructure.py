"""Move nnaccel's flat modules into layered subpackages (issue 17), from ONE table, idempotently.

    python tools/restructure.py            # in the repository root: move, rewrite, write the contract
    python tools/restructure.py --check    # say what it would do; change nothing (exit 1 if unmapped)
    python tools/restructure.py --readme   # also rewrite README.md's module names and paths

What it does, in this order:
1. Lists every module under nnaccel/ (git ls-files, plus untracked files git does not ignore)
   and FAILS (exit 1, nothing changed) if one is not a key or a value of MODULES, or a resource
   file lies in a folder DIRS does not map: add the rows, run again.
2. Rewrites every import (absolute, relative, ``from PKG import module``), every dotted name
   (``importlib.import_module("nnaccel.x")``, ``"nnaccel.x:func"``, mock.patch targets,
   ``-m nnaccel.x``, setup.py's Extension names, C's capsule names) and every path
   (``nnaccel/fast/_sgd.c``) in nnaccel/, tests/, benchmarks/, docs/, setup.py, pyproject.toml
   (package-data keys map as folders), MANIFEST.in, .ci/ and docker/.
3. ``git mv``s each file to its new place, creates the new packages' ``__init__.py`` (PACKAGES),
   removes the build outputs (.so, __pycache__) left in folders it emptied.
4. Writes the import-linter contract (.importlinter) for the new layout.

Run twice, the second run changes nothing: a name already new is never rewritten (the table is
checked: no old name is a proper prefix of a new one, no new name is another row's old name).
Then: ``python setup.py build_ext --inplace -q && lint-imports && python -m pytest -q``.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

# ---- THE table: old module → new module (every module under nnaccel/, compiled ones too) ----------
# A new name with other new names under it is a package: its file is NAME/__init__.py.
MODULES = {
    # the package, the command, and the bottom layer (errors, files, backend)
    "nnaccel": "nnaccel",
    "nnaccel.__main__": "nnaccel.__main__",
    "nnaccel._version": "nnaccel._version",
    "nnaccel.errors": "nnaccel.errors",
    "nnaccel.files": "nnaccel._files",
    "nnaccel.backend": "nnaccel.backend",
    # data: files of examples, checks, the device copy, the book's expansion
    "nnaccel.data": "nnaccel.data",
    "nnaccel.data.arrays": "nnaccel.data.arrays",
    "nnaccel.data.datasets": "nnaccel.data.datasets",
    "nnaccel.data.download": "nnaccel.data.download",
    "nnaccel.data.idx": "nnaccel.data.idx",
    "nnaccel.data.npz": "nnaccel.data.npz",
    "nnaccel.data.png": "nnaccel.data.png",
    "nnaccel.data.safe_pickle": "nnaccel.data.safe_pickle",
    "nnaccel.data.validate": "nnaccel.data.validate",
    "nnaccel.expand": "nnaccel.data.expand",
    # core: the maths of the parts, pure functions of arrays
    "nnaccel.activations": "nnaccel.core.activations",
    "nnaccel.costs": "nnaccel.core.costs",
    "nnaccel.initializers": "nnaccel.core.initializers",
    "nnaccel.dropout": "nnaccel.core.dropout",
    "nnaccel.second_order": "nnaccel.core.second_order",
    "nnaccel.scalars": "nnaccel.core.scalars",  # NumPy's scalar types taken as the numbers they equal
    "nnaccel.core.parameters": "nnaccel.core.parameters",  # the one table of training parameters (issue 17)
    "nnaccel.memory": "nnaccel.core.memory",  # the bytes a network and its data need, from their sizes
    # optim: the seam, one module per optimizer, the registry in __init__
    "nnaccel.optimizers": "nnaccel.optim",
    "nnaccel.optimizer": "nnaccel.optim.base",
    "nnaccel.sgd": "nnaccel.optim.sgd",
    "nnaccel.newton": "nnaccel.optim.newton",
    "nnaccel.hessian_free": "nnaccel.optim.hessian_free",
    "nnaccel.lbfgs": "nnaccel.optim.lbfgs",
    # io: files on disk
    "nnaccel.serialization": "nnaccel.io.models",
    "nnaccel.checkpoint": "nnaccel.io.checkpoints",
    "nnaccel.onnx_export": "nnaccel.io.onnx",
    "nnaccel.plot": "nnaccel.io.plot",
    "nnaccel.run_files": "nnaccel.io.run_files",  # a command's files, checked together before any work
    # epochs: the contract and generic path, the population's, the registry, the fast paths
    "nnaccel.epoch": "nnaccel.epochs.generic",
    "nnaccel.population_epoch": "nnaccel.epochs.population",
    "nnaccel.fast": "nnaccel.epochs.fast",  # the registry and chooser of fast paths, in fast/__init__
    "nnaccel.fast.common": "nnaccel.epochs.fast.common",
    "nnaccel.fast.selfcheck": "nnaccel.epochs.fast.selfcheck",
    "nnaccel.fast.c_epoch": "nnaccel.epochs.fast.c_epoch",
    "nnaccel.fast.numpy_epoch": "nnaccel.epochs.fast.numpy_epoch",
    "nnaccel.fast.cupy_epoch": "nnaccel.epochs.fast.cupy_epoch",
    "nnaccel.fast.persistent_epoch": "nnaccel.epochs.fast.persistent_epoch",
    "nnaccel.fast.population_c": "nnaccel.epochs.fast.population_c",
    "nnaccel.fast.population_cuda": "nnaccel.epochs.fast.population_cuda",
    "nnaccel.fast.jax_epoch": "nnaccel.epochs.fast.jax_epoch",
    "nnaccel.fast.nvrtc": "nnaccel.epochs.fast.nvrtc",
    "nnaccel.fast.register_epoch": "nnaccel.epochs.fast.register_epoch",  # issue 15a (with cuda/register_epoch.cu)
    "nnaccel.fast._sgd": "nnaccel.epochs.fast._sgd",  # compiled (setup.py)
    "nnaccel.fast._population": "nnaccel.epochs.fast._population",  # compiled (setup.py)
    # training: the loop and what a run needs around it
    "nnaccel.trainer": "nnaccel.training.trainer",
    "nnaccel.signals": "nnaccel.training.signals",
    "nnaccel.outputs": "nnaccel.training.outputs",
    "nnaccel.divergence": "nnaccel.training.divergence",
    "nnaccel.schedules": "nnaccel.training.schedules",
    # nets: the objects a user holds (net.SGD, net.save, net.to_onnx call down into the rest)
    "nnaccel.network": "nnaccel.nets.network",
    "nnaccel.population": "nnaccel.nets.population",
    # book: the experiments of chapters 1-3
    "nnaccel.experiments": "nnaccel.book.experiments",
    "nnaccel.perceptrons": "nnaccel.book.perceptrons",
    "nnaccel.bitwise": "nnaccel.book.bitwise",
    "nnaccel.decay": "nnaccel.book.decay",
    "nnaccel.hessian_technique": "nnaccel.book.hessian_technique",
    # tools: one command or integration each (private modules: what two tools share)
    "nnaccel.tune": "nnaccel.tools.tune",
    "nnaccel.tuning": "nnaccel.tools._tuning",
    "nnaccel.sweep": "nnaccel.tools.sweep",
    "nnaccel.studies": "nnaccel.tools._studies",
    "nnaccel.search_space": "nnaccel.tools._search_space",
    "nnaccel.serve": "nnaccel.tools.serve",
    "nnaccel.web": "nnaccel.tools.web",
    "nnaccel.export": "nnaccel.tools.export",
    "nnaccel.sklearn": "nnaccel.tools.sklearn",
    "nnaccel.bench": "nnaccel.tools.bench",
    "nnaccel.selftest": "nnaccel.tools.selftest",
    "nnaccel.epoch_timing": "nnaccel.tools.epoch_timing",  # what selftest measures of issue 15's goals
    "nnaccel.predict": "nnaccel.tools.predict",
    "nnaccel.sweep_outputs": "nnaccel.tools._sweep_outputs",  # what sweep writes, checked first
    # cli: the parser and train/evaluate/info, --resume
    "nnaccel.cli": "nnaccel.cli",
    "nnaccel.flags": "nnaccel.tools.flags",  # the flags train, tune and sweep share: below cli
    "nnaccel.resume": "nnaccel.cli.resume",
    "nnaccel.helptext": "nnaccel.cli.helptext",  # what --help says
    "nnaccel.summary": "nnaccel.cli.summary",  # the line train ends with
    "nnaccel.cli.pipes": "nnaccel.cli.pipes",  # stdout closed by its reader: not an error
}

# Folders of non-Python files (package data, C and CUDA sources): old folder → new folder.
DIRS = {
    "nnaccel": "nnaccel",
    "nnaccel/data": "nnaccel/data",
    "nnaccel/data/mnist-10k": "nnaccel/data/mnist-10k",
    "nnaccel/fast": "nnaccel/epochs/fast",
    "nnaccel/fast/cuda": "nnaccel/epochs/fast/cuda",
    "nnaccel/web": "nnaccel/tools/web",
}

# The layers, top first (each imports only the layers below it), with the docstring of the
# package __init__.py the script creates when it does not exist.
LAYERS = [
    ("nnaccel.cli", None),
    ("nnaccel.tools", "Tools over the API, one command or integration each: tune, sweep, serve, export, "
                      "predict, scikit-learn, bench, selftest; and the flags the commands share."),
    ("nnaccel.book", "The book's experiments, chapters 1-3, each a function of a Context."),
    ("nnaccel.nets", "The objects a user holds: Network (network2's, with SGD, save and to_onnx), "
                     "Population, and load."),
    ("nnaccel.training", "The training loop and what a run needs around it: signals, schedules, divergence, "
                         "outputs."),
    ("nnaccel.epochs", "One epoch of training: the contract and the generic array-API path (generic), the "
                       "population's (population), and the fast paths with their registry (fast/)."),
    ("nnaccel.io", "Files on disk: models (network2's JSON, .npz), checkpoints, ONNX, figures, and a "
                   "command's files checked together (run_files)."),
    ("nnaccel.optim", None),
    ("nnaccel.core", "The maths of the parts, pure functions of arrays: activations, costs, initialisers, "
                     "dropout, second-order information; scalars and memory estimates."),
    ("nnaccel.data", None),
    ("nnaccel.backend", None),
    ("nnaccel._files", None),
    ("nnaccel.errors", None),
]
PACKAGES = {name: doc for name, doc in LAYERS if doc}

TEXT_SUFFIXES = {".py", ".pyi", ".c", ".h", ".cu", ".cuh", ".cpp", ".hpp", ".toml", ".cfg", ".ini", ".in",
                 ".md", ".txt", ".sh", ".js", ".html", ""}
SKIP = ("benchmarks/results/",)  # measured records: they say where the code was when measured
SKIP_FILES = ("docs/layout.md",)  # written for the new layout; it names the old modules on purpose
DOTTED = re.compile(r"(?<![\w.])nnaccel(?:\.[A-Za-z_]\w*)+")
PATH = re.compile(r"(?<![\w.])nnaccel(?:/[\w.-]+)+")
BUILD_OUTPUTS = (".so", ".pyd", ".pyc")


def fail(lines):
    print("restructure: " + lines[0], file=sys.stderr)
    for line in lines[1:]:
        print("  " + line, file=sys.stderr)
    sys.exit(1)


def check_table():
    """The table is idempotent: no new name is another row's old name, and no old name (moved)
    is a proper prefix of a new one, so a name already rewritten is never rewritten again."""
    problems = []
    moved = {o: n for o, n in MODULES.items() if o != n}
    news = set(MODULES.values())
    for old, new in MODULES.items():
        if new in MODULES and MODULES[new] != new:
            problems.append(f"{old} → {new}, but {new} is itself moved to {MODULES[new]}")
    for old in moved:
        for new in news:
            if new.startswith(old + "."):
                problems.append(f"the moved name {old} is a prefix of the new name {new}")
    if len(news) != len(MODULES):
        problems.append("two old modules map to one new module")
    if problems:
        fail(["the table MODULES is not idempotent:"] + problems)


def package_names():
    """The new names that are packages: those with modules under them, and the folders of DIRS."""
    news = set(MODULES.values()) | set(PACKAGES)
    folders = {d.replace("/", ".") for d in DIRS.values()}
    return {n for n in news if any(m.startswith(n + ".") for m in news) or n in folders} | set(PACKAGES)


def module_file(name, packages):
    return name.replace(".", "/") + ("/__init__.py" if name in packages else ".py")


def git_files(*args):
    out = subprocess.run(["git", "ls-files", "-z", *args], capture_output=True, text=True, check=True).stdout
    return [f for f in out.split("\0") if f]


def current_files():
    tracked = git_files()
    untracked = git_files("--others", "--exclude-standard")
    return tracked, [f for f in untracked if f.startswith(("nnaccel/", "tests/", "benchmarks/", "docs/"))]


def plan(files):
    """(moves: old path → new path, unmapped: what the tables miss)."""
    packages = package_names()
    new_files = {module_file(n, packages) for n in set(MODULES.values()) | set(PACKAGES)}
    moves, unmapped = {}, []
    for f in files:
        if not f.startswith("nnaccel/") or "__pycache__" in f:
            continue
        if f.endswith(".py"):
            name, _ = module_of(f)
            if f in new_files:
                continue  # already where the table puts it (or an unmoved row)
            if name in MODULES:
                moves[f] = module_file(MODULES[name], packages)
            else:
                unmapped.append(f"module {name} ({f}): add a row to MODULES")
        else:
            folder = os.path.dirname(f)
            if folder in DIRS:
                new = f"{DIRS[folder]}/{os.path.basename(f)}"
                if new != f:
                    moves[f] = new
            elif folder not in DIRS.values():
                unmapped.append(f"file {f}: add its folder {folder} to DIRS")
    return moves, unmapped


# ---- rewriting names ------------------------------------------------------------------------------
def map_name(name):
    """``name`` (a dotted module or module.attribute) in the new layout."""
    parts = name.split(".")
    for k in range(len(parts), 0, -1):
        head = ".".join(parts[:k])
        if head in MODULES:
            return ".".join([MODULES[head]] + parts[k:])
    return name


def is_module(name):
    return name in MODULES or name in MODULES.values() or name in PACKAGES


def _path_tables(moves):
    files = dict(moves)
    stems = {o[:-3]: n[:-3] for o, n in moves.items() if o.endswith(".py") and not o.endswith("__init__.py")}
    dirs = {o: n for o, n in DIRS.items() if o != n}
    return files, stems, dirs


def map_path(path, tables):
    files, stems, dirs = tables
    if path in files:
        return files[path]
    head, _, last = path.rpartition("/")
    stem, dot, rest = last.partition(".")
    if f"{head}/{stem}" in stems:
        return f"{stems[head + '/' + stem]}{dot}{rest}"
    parts = path.split("/")
    for k in range(len(parts), 0, -1):
        prefix = "/".join(parts[:k])
        if prefix in dirs:
            return "/".join([dirs[prefix]] + parts[k:])
    return path


def resolve_relative(module, is_package, level, target):
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def relative(from_module, from_is_package, target):
    """``target`` written relative to ``from_module`` (a module's package is its base)."""
    base = from_module.split(".") if from_is_package else from_module.split(".")[:-1]
    t = target.split(".")
    common = 0
    while common < min(len(base), len(t)) and base[common] == t[common]:
        common += 1
    return "." * (len(base) - common + 1) + ".".join(t[common:])


def _alias_text(name, asname):
    return f"{name} as {asname}" if asname and asname != name else name


def _import_lines(indent, source, names, width=110):
    text = f"{indent}from {source} import {', '.join(names)}"
    if len(text) <= width or len(names) == 1:
        return [text]
    lines, line = [], f"{indent}from {source} import ("
    pad = " " * len(line)
    for k, n in enumerate(names):
        piece = n + (", " if k < len(names) - 1 else ")")
        if len(line) + len(piece) > width and not line.endswith("("):
            lines.append(line.rstrip())
            line = pad
        line += piece
    return lines + [line]


def rewrite_imports(text, module, is_package, new_module, new_is_package):
    """The import statements of a Python file, rewritten for the new layout (others kept as written)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return text
    lines = text.split("\n")
    edits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                if module is None:
                    continue
                source = resolve_relative(module, is_package, node.level, node.module)
            else:
                source = node.module or ""
            if not (source == "nnaccel" or source.startswith("nnaccel.")):
                continue
            groups = {}  # new source → names
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                if alias.name != "*" and is_module(sub):
                    new_sub = map_name(sub)
                    new_source, _, new_leaf = new_sub.rpartition(".")
                    local = alias.asname or alias.name
                    groups.setdefault(new_source, []).append(_alias_text(new_leaf, local))
                else:
                    groups.setdefault(map_name(source), []).append(_alias_text(alias.name, alias.asname))
            if node.level:
                def spell(s):
                    return relative(new_module, new_is_package, s)
            else:
                def spell(s):
                    return s
            new_lines = []
            first, last = lines[node.lineno - 1], lines[node.end_lineno - 1]
            indent = first[: node.col_offset]
            tail = last[node.end_col_offset:]
            for src, names in groups.items():
                new_lines += _import_lines(indent, spell(src), names)
            old = "\n".join(lines[node.lineno - 1: node.end_lineno])
            new = "\n".join(new_lines) + tail
            if len(groups) == 1 and spell(next(iter(groups))) == (("." * node.level) + (node.module or "")) \
                    and all("." not in n for n in next(iter(groups.values()))) and \
                    [a for a in next(iter(groups.values()))] == [_alias_text(a.name, a.asname) for a in node.names]:
                continue  # unchanged: keep it as written (wrapping, comments)
            if old != new:
                edits.append((node.lineno, node.end_lineno, new))
        elif isinstance(node, ast.Import):
            # import nnaccel.x[.y] [as z]: the dotted-name pass rewrites it (and its uses)
            continue
    for start, stop, new in sorted(edits, reverse=True):
        lines[start - 1: stop] = new.split("\n")
    return "\n".join(_sort_relative_runs(lines) if edits else lines)


RELATIVE_LINE = re.compile(r"^from (\.+)([\w.]*) import [^(]*$")
ABSOLUTE_LINE = re.compile(r"^from ()(nnaccel[\w.]*) import [^(]*$")


def _sort_relative_runs(lines):
    """Each run of one-line top-level imports of nnaccel (relative, or absolute) in isort's order:
    .. before ., then by module name."""
    out, run, kind = [], [], None

    def key(text):
        dots, name = (RELATIVE_LINE.match(text) or ABSOLUTE_LINE.match(text)).groups()
        return (-len(dots), name.lower(), text)

    for line in lines + [None]:
        this = None if line is None else (RELATIVE_LINE if RELATIVE_LINE.match(line) else
                                          ABSOLUTE_LINE if ABSOLUTE_LINE.match(line) else None)
        if this is not None and this is kind:
            run.append(line)
            continue
        out += sorted(run, key=key)
        run, kind = ([line], this) if this is not None else ([], None)
        if this is None and line is not None:
            out.append(line)
    return out


def rewrite_text(text, path_tables, pyproject=False):
    if pyproject:  # package-data keys are folders, not modules
        def key(m):
            new = DIRS.get(m.group(1).replace(".", "/"))
            return f'"{new.replace("/", ".")}" =' if new else m.group(0)
        text = re.sub(r'^"(nnaccel[\w.]*)" =', key, text, flags=re.M)
    text = DOTTED.sub(lambda m: map_name(m.group(0)), text)
    return PATH.sub(lambda m: map_path(m.group(0), path_tables), text)


def module_of(path):
    if not path.endswith(".py") or not path.startswith("nnaccel/"):
        return None, False
    name = path[:-3].replace("/", ".")
    if name.endswith(".__init__"):
        return name[: -len(".__init__")], True
    return name, False


def files_to_rewrite(tracked, untracked, readme):
    chosen = []
    for f in sorted(set(tracked) | set(untracked)):
        if f.startswith(SKIP) or f in SKIP_FILES or "__pycache__" in f or not os.path.isfile(f):
            continue
        suffix = Path(f).suffix
        wanted = (f.startswith(("nnaccel/", "tests/", "benchmarks/", ".ci/", "docker/"))
                  or (f.startswith("docs/") and suffix in (".py", ".md"))
                  or f in ("setup.py", "pyproject.toml", "MANIFEST.in") or (readme and f == "README.md"))
        if wanted and (suffix in TEXT_SUFFIXES or Path(f).name == "Dockerfile"):
            chosen.append(f)
    return chosen


def contract():
    layers = "\n".join(f"    {name}" for name, _ in LAYERS)
    return f"""# import-linter contracts for nnaccel's layers (docs/layout.md); CI runs them in tests/test_layers.py.
# Written by tools/restructure.py from its LAYERS table: edit the table, run the script again.
[importlinter]
root_packages =
    nnaccel
    tests
    benchmarks
    reference
include_external_packages = False

[importlinter:contract:layers]
name = Each layer imports only the layers below it
type = layers
layers =
{layers}

[importlinter:contract:core]
name = The core never imports files, training, the objects, tools or the command line
type = forbidden
source_modules =
    nnaccel.core
forbidden_modules =
    nnaccel.io
    nnaccel.training
    nnaccel.nets
    nnaccel.tools
    nnaccel.cli

[importlinter:contract:package]
name = Nothing in nnaccel imports the tests, the benchmarks or the reference implementations
type = forbidden
source_modules =
    nnaccel
forbidden_modules =
    tests
    benchmarks
    reference

[importlinter:contract:reference]
name = The reference implementations (the book's loop) import nothing of nnaccel, the tests or the benchmarks
type = forbidden
source_modules =
    reference
forbidden_modules =
    nnaccel
    tests
    benchmarks

[importlinter:contract:tests-benchmarks]
name = Tests and benchmarks import nothing of each other
type = independence
modules =
    tests
    benchmarks
# What both need (the book's loop: the tests' oracle, the benchmarks' peer) is in reference/;
# where a test needs a benchmark command, it runs it as a command. No crossing is allowed.
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="say what would change; change nothing")
    parser.add_argument("--readme", action="store_true", help="also rewrite README.md")
    args = parser.parse_args(argv)
    if not Path("nnaccel/__init__.py").exists():
        fail(["run it in the repository root (nnaccel/__init__.py not found)"])
    check_table()
    tracked, untracked = current_files()
    moves, unmapped = plan(tracked + untracked)
    if unmapped:
        fail([f"{len(unmapped)} module(s) or file(s) under nnaccel/ that the tables do not map "
              "(nothing was changed):"] + unmapped)
    packages = package_names()
    tables = _path_tables(moves)
    changed = []
    for f in files_to_rewrite(tracked, untracked, args.readme):
        text = Path(f).read_text(encoding="utf-8", errors="surrogateescape")
        new = text
        if f.endswith(".py"):
            module, is_package = module_of(f)
            new_path = moves.get(f, f)
            new_module, new_is_package = module_of(new_path)
            new = rewrite_imports(new, module, is_package, new_module, new_is_package)
        new = rewrite_text(new, tables, pyproject=(f == "pyproject.toml"))
        if new != text:
            changed.append(f)
            if not args.check:
                Path(f).write_text(new, encoding="utf-8", errors="surrogateescape")
    created = []
    for name in sorted(packages):
        init = Path(module_file(name, packages))
        if init.as_posix() in moves.values() or init.exists():
            continue
        created.append(init.as_posix())
        if not args.check:
            init.parent.mkdir(parents=True, exist_ok=True)
            doc = PACKAGES.get(name, "")
            init.write_text(f'"""{doc}"""\n' if doc else "")
    vacated = set()
    for old, new in sorted(moves.items()):
        vacated.add(os.path.dirname(old))
        if args.check:
            continue
        Path(new).parent.mkdir(parents=True, exist_ok=True)
        if old in tracked:
            subprocess.run(["git", "mv", old, new], check=True)
        else:
            shutil.move(old, new)
    if not args.check:
        subprocess.run(["git", "add", *created], check=True) if created else None
        for folder in sorted(vacated, key=len, reverse=True):
            _clean(Path(folder))
        Path(".importlinter").write_text(contract())
        subprocess.run(["git", "add", ".importlinter"], check=True)
    for old, new in sorted(moves.items()):
        where = new if not args.check else old
        if where.endswith(".py") and re.search(r"__file__\)?(\.resolve\(\))?\.parents?\b", Path(where).read_text()):
            print(f"restructure: {where} finds files from its own place (__file__ ... parent): check it by hand",
                  file=sys.stderr)
    verb = "would" if args.check else ""
    print(f"restructure: {verb} move {len(moves)} file(s), rewrite {len(changed)}, create {len(created)} "
          f"package(s); contract in .importlinter".replace("  ", " "))
    for old, new in sorted(moves.items()):
        print(f"  {old} → {new}")
    return 0


def _clean(folder):
    """Remove the build outputs (compiled extensions, bytecode) left in a folder the move emptied."""
    if not folder.is_dir() or folder.as_posix() in DIRS.values():
        return
    tracked_here = git_files(folder.as_posix())
    if tracked_here:
        return
    for p in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if p.is_file() and (p.suffix in BUILD_OUTPUTS):
            p.unlink()
        elif p.is_dir() and p.name == "__pycache__":
            shutil.rmtree(p)
        elif p.is_dir() and not any(p.iterdir()):
            p.rmdir()
    if not any(folder.iterdir()):
        folder.rmdir()
    else:
        print(f"restructure: {folder} still holds {', '.join(sorted(x.name for x in folder.iterdir()))}; "
              "left as it is", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())

"""Every figure that README.md and docs/*.md quote, from the commands that produce it.

    python -m docs.figures                 check: rerun the deterministic commands, compare with
                                           docs/figures.json, and check the docs' figure blocks
    python -m docs.figures --fast          the same for the fast subset only (CI: tests/test_figures.py)
    python -m docs.figures --write         rerun everything, write docs/figures.json, the experiments'
                                           docs/experiments/NAME.{json,png} and every figure block
    python -m docs.figures --write --fast  rerun the fast subset only, keep the rest as committed

Each source is one command (shown in the docs beside its numbers). What it gives is split in
two: ``values``, the seeded, deterministic numbers that a rerun must reproduce exactly, and
``timings``, which are stamped with the machine and the code path that ran and never compared.
A figure block in a document is the text between ``<!-- figures:NAME -->`` and
``<!-- /figures:NAME -->``; it is rendered from docs/figures.json alone, so the check that
every block equals its rendering needs no rerun.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "docs" / "figures.json"
DOCUMENTS = ["README.md", "docs/experiments.md", "docs/performance.md", "docs/tuning.md"]
FASHION = Path("/usr/share/datasets/fashion-mnist")
SECONDS = re.compile(r"\d+(?:\.\d+)? s\b")  # a timing inside a printed line


# ---- where a figure was measured ----------------------------------------------------------

def stamp():
    """The machine and the code path that produced a set of timings."""
    from nnaccel.epochs.fast.c_epoch import available

    cpu = next((line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines()
                if line.startswith("model name")), platform.processor() or platform.machine())
    level = available()
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "path": f"C kernel, {level}" if level else "NumPy fast path (C kernel not compiled)",
            "load": round(os.getloadavg()[0], 1), "date": time.strftime("%Y-%m-%d")}


def _read(path):
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _nnaccel(*args, cwd=ROOT):
    """Run ``python -m nnaccel ARGS`` as a user would; its stdout lines (exit code checked)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               CUDA_VISIBLE_DEVICES="")  # the documents show the CPU's output, also on a GPU machine
    done = subprocess.run([sys.executable, "-m", "nnaccel", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env)
    if done.returncode != 0:
        raise SystemExit(f"docs.figures: nnaccel {' '.join(map(str, args))} failed:\n{done.stderr}")
    return done.stdout.splitlines()


def _untimed(line):
    """A printed line with its timings taken out: what a rerun must reproduce exactly."""
    return SECONDS.sub("… s", line)


# ---- the sources ----------------------------------------------------------------------------

def train_sample():
    """The README's first command: the book's first network, seeded."""
    lines = _nnaccel("train", "--seed", "1")
    return {"values": [_untimed(line) for line in lines], "timings": {"lines": lines}}


def experiment(name):
    def run(write=False):
        from nnaccel.book.experiments import run_experiment

        lines = []
        with tempfile.TemporaryDirectory() as scratch:
            out_dir = ROOT / "docs" / "experiments" if write else scratch
            began = time.perf_counter()
            result = run_experiment(name, out_dir=out_dir, device="cpu", seed=1, out=lines.append)
            seconds = time.perf_counter() - began
        rows = [[_untimed(q), book, _untimed(ours)] for q, book, ours in result["summary"]]
        return {"values": {"rows": rows, "dataset": result["dataset"]},
                "timings": {"rows": result["summary"], "seconds": round(seconds, 1)}}
    run.command = f"nnaccel experiment {name}"
    return run


def tune(dataset):
    def run(write=False):
        report = ROOT / "docs" / "tune" / dataset
        flags = ["--dataset", dataset, "--m-choice", "accuracy"] + (["--report", report] if write else [])
        began = time.perf_counter()
        lines = _nnaccel("tune", *flags)
        seconds = time.perf_counter() - began
        command = next(line for line in lines if line.startswith("reproduce")).split(": ", 1)[1].split()
        test = _nnaccel(*command[1:])
        if write:
            (ROOT / "docs" / "tune" / f"{dataset}.txt").write_text("\n".join(lines) + "\n")
        chosen = next(line for line in lines if line.startswith("chosen:"))
        values = {"chosen": chosen, "validation": _untimed(next(line for line in lines if line.startswith("validation"))),
                  "command": " ".join(command), "test": next(line for line in test if line.startswith("Test accuracy")),
                  "ladders": [_untimed(line) for line in lines]}
        return {"values": values, "timings": {"seconds": round(seconds), "lines": lines}}
    run.command = f"nnaccel tune --dataset {dataset} --m-choice accuracy"
    run.needs = FASHION if dataset == "fashion-mnist" else None
    return run


FASHION_COMMAND = ["train", "--dataset", "fashion-mnist", "--sizes", "784", "100", "10", "--hidden-activation", "relu",
                   "--output-activation", "softmax", "--cost", "log-likelihood", "--eta", "0.01", "--momentum", "0.9",
                   "--lmbda", "100", "--schedule", "halve", "--patience", "2", "--expand", "shifts",
                   "--validation-size", "10000", "-m", "10", "--epochs", "30", "--seed", "1"]


def fashion():
    """The Fashion-MNIST headline: [784,100,10] with chapter 3's techniques."""
    history = ROOT / "docs" / "fashion-mnist" / "history.jsonl"
    with tempfile.TemporaryDirectory() as scratch:
        lines = _nnaccel(*FASHION_COMMAND, "--history", Path(scratch) / "history.jsonl")
        records = Path(scratch, "history.jsonl").read_text()
    history.write_text(records)
    from nnaccel.io.plot import plot_history

    plot_history([json.loads(line) for line in records.splitlines()], history.with_suffix(".png"),
                 "[784, 100, 10] on Fashion-MNIST (docs/experiments.md), seed 1")
    kept = [_untimed(line) for line in lines if not line.startswith("Epoch ")]
    epochs = [line for line in lines if line.startswith("Epoch ")]
    return {"values": {"lines": kept, "epochs": len(epochs), "last": _untimed(epochs[-1])},
            "timings": {"seconds per epoch": [float(SECONDS.findall(e)[-1][:-2]) for e in epochs]}}


train_sample.command = "nnaccel train --seed 1"
fashion.command = "nnaccel " + " ".join(FASHION_COMMAND)
fashion.needs = FASHION

EXPERIMENTS = ["saturation", "overfitting", "init", "more-data", "regularization", "perceptrons", "bitwise",
               "hessian", "decay", "dropout"]
FAST = ["train", "experiment saturation", "experiment perceptrons", "experiment bitwise", "experiment decay"]
SOURCES = {"train": train_sample, **{f"experiment {e}": experiment(e) for e in EXPERIMENTS},
           "tune mnist-10k": tune("mnist-10k"), "tune fashion-mnist": tune("fashion-mnist"), "fashion": fashion}


def measure(name, write):
    """One source rerun: its command, values, timings and stamp."""
    source = SOURCES[name]
    result = source(write=write) if name.startswith(("experiment", "tune")) else source()
    return {"command": source.command, "fast": name in FAST, **result, "stamp": stamp()}


# ---- the documents' figure blocks ---------------------------------------------------------

def block_train(figures):
    lines = figures["train"]["timings"]["lines"]
    epochs = [i for i, line in enumerate(lines) if line.startswith("Epoch ")]
    shown = lines[:epochs[2] + 1] + ["..."] + lines[epochs[-1]:]
    return "```\n$ nnaccel train --seed 1\n" + "\n".join(shown) + "\n```"


def block_experiments(figures):
    out = ["| experiment | quantity | book | nnaccel |", "|---|---|---|---|"]
    for name in EXPERIMENTS:
        entry = figures.get(f"experiment {name}")
        if not entry:
            continue
        for quantity, book, ours in entry["timings"]["rows"]:
            out.append(f"| `{name}` | {quantity} | {book} | {ours} |")
    seconds = ", ".join(f"`{n}` {figures[f'experiment {n}']['timings']['seconds']:g} s" for n in EXPERIMENTS
                        if f"experiment {n}" in figures)
    out += ["", f"Run times: {seconds} ({_where(figures['experiment saturation'])})."]
    return "\n".join(out)


def _where(entry):
    s = entry["stamp"]
    return f"{s['cpu']}, {s['cores']} cores, {s['path']}, load {s['load']}, {s['date']}"


def block_tune(name):
    def render(figures):
        entry = figures.get(f"tune {name}")
        if not entry:
            return f"(`tune {name}` has not been measured: its data set was missing)"
        v = entry["values"]
        shown = [line for line in entry["timings"]["lines"] if line.startswith(("chosen:", "validation", "reproduce"))]
        return ("```\n$ " + entry["command"] + "\n" + "\n".join(shown)
                + f"\n$ {v['command']}\n...\n{v['test']}\n```\n\n"
                f"({entry['timings']['seconds']} s on {_where(entry)}; every step: `docs/tune/{name}.txt`.)")
    return render


def block_fashion(figures):
    entry = figures.get("fashion")
    if not entry:
        return "(not measured: Fashion-MNIST was missing)"
    v, per_epoch = entry["values"], entry["timings"]["seconds per epoch"]
    test = next(line for line in v["lines"] if line.startswith("Test accuracy"))
    stopped = next((line for line in v["lines"] if "stopped after" in line), None)
    shown = [line.replace("… s", f"{sum(per_epoch):.0f} s") for line in v["lines"][-2:]]
    return (f"```\n$ {entry['command']}\n...\n{v['last'].replace('… s', f'{per_epoch[-1]:.1f} s')}\n"
            + "\n".join(shown) + "\n```\n\n"
            f"{v['epochs']} epochs" + (f" ({stopped.split(': ', 1)[1]})" if stopped else " (the schedule did not "
            "reach η₀/128 within --epochs)") + f", {min(per_epoch):.1f}–{max(per_epoch):.1f} s an epoch on "
            f"{_where(entry)}. **{test.split(': ', 1)[1]}** on the 10,000 test images, scored once.")


def block_bench(figures):
    """The CPU benchmark table, from the committed pytest-benchmark run (not rerun here: minutes)."""
    from benchmarks.report import rows

    path = ROOT / "benchmarks" / "results" / "cpu-xeon-2core.json"
    doc = json.loads(path.read_text())
    table, _ = rows(doc)
    impls = [("nnaccel-numpy", "nnaccel NumPy"), ("nnaccel-numpy-generic", "generic path"),
             ("peer-naive-numpy", "naive NumPy loop"), ("peer-book-loop", "book per-example loop"),
             ("peer-torch-cpu", "PyTorch CPU eager"), ("nnaccel-torch-cpu", "nnaccel on torch CPU")]
    present = [(k, label) for k, label in impls if any(k in v for v in table.values())]
    out = ["| network, m, dtype | " + " | ".join(label for _, label in present) + " |",
           "|---" * (len(present) + 1) + "|"]
    for (config, dtype, sizes, m, cost), values in table.items():
        cells = [f"{values[k]:.3g}" if k in values else "–" for k, _ in present]
        out.append(f"| {list(sizes)}, {m}, {cost}, {dtype} | " + " | ".join(cells) + " |")
    machine = doc.get("machine_info", {})
    cpu = machine.get("cpu", {}).get("brand_raw", "?")
    out += ["", f"Seconds per epoch of 60,000 examples, median of its rounds; {cpu}, "
                f"{machine.get('cpu', {}).get('count', '?')} cores, `{path.relative_to(ROOT)}` "
                f"({doc.get('datetime', '?')[:10]}); `python -m benchmarks.report {path.relative_to(ROOT)}`."]
    return "\n".join(out)


BLOCKS = {"train": block_train, "experiments": block_experiments, "tune-mnist-10k": block_tune("mnist-10k"),
          "tune-fashion-mnist": block_tune("fashion-mnist"), "fashion": block_fashion, "bench-cpu": block_bench}
BLOCK = re.compile(r"(<!-- figures:([\w-]+) -->\n)(.*?)(<!-- /figures:\2 -->)", re.S)


def render_document(text, figures):
    return BLOCK.sub(lambda m: m[1] + BLOCKS[m[2]](figures) + "\n" + m[4], text)


# ---- check and write ----------------------------------------------------------------------

def load():
    return json.loads(FIGURES.read_text()) if FIGURES.exists() else {}


def check(names):
    """The problems found: a rerun value that differs, a document block that differs from its rendering."""
    committed, problems = load(), []
    for name in names:
        if name not in committed:
            problems.append(f"{name}: not in docs/figures.json; run python -m docs.figures --write")
            continue
        fresh = measure(name, write=False)
        if fresh["values"] != committed[name]["values"]:
            problems.append(f"{name} ({committed[name]['command']}): the committed values differ from a rerun:\n"
                            f"  committed {json.dumps(committed[name]['values'], ensure_ascii=False)[:2000]}\n"
                            f"  rerun     {json.dumps(fresh['values'], ensure_ascii=False)[:2000]}")
    for doc in DOCUMENTS:
        text = (ROOT / doc).read_text()
        if render_document(text, committed) != text:
            problems.append(f"{doc}: a figure block differs from docs/figures.json; run python -m docs.figures --write")
    return problems


def write(names):
    for name in names:
        print(f"docs.figures: {SOURCES[name].command}", file=sys.stderr, flush=True)
        entry = measure(name, write=True)
        figures = load()  # read again: another --write --only may have added its own meanwhile
        figures[name] = entry
        FIGURES.write_text(json.dumps(figures, indent=1, ensure_ascii=False) + "\n")  # after each: hours of work
    render()


def render():
    """Every document's figure blocks from docs/figures.json as it stands."""
    figures = load()
    for doc in DOCUMENTS:
        path = ROOT / doc
        if path.exists():
            path.write_text(render_document(path.read_text(), figures))


def available(names):
    """The sources this machine can run (Fashion-MNIST from Debian's package, say)."""
    return [n for n in names if getattr(SOURCES[n], "needs", None) is None or SOURCES[n].needs.is_dir()]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m docs.figures", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="rerun and write (default: rerun and compare)")
    parser.add_argument("--fast", action="store_true", help="only the fast subset (about 20 s)")
    parser.add_argument("--only", nargs="+", metavar="NAME", choices=list(SOURCES), help="only these sources")
    parser.add_argument("--render", action="store_true",
                        help="only rewrite the documents' figure blocks from docs/figures.json (no rerun)")
    args = parser.parse_args(argv)
    if args.render:
        render()
        return 0
    names = args.only or (FAST if args.fast else list(SOURCES))
    names = available(names)
    if args.write:
        write(names)
        return 0
    problems = check(names)
    for problem in problems:
        print(f"docs.figures: {problem}", file=sys.stderr)
    print(f"docs.figures: {len(names)} sources rerun, {len(DOCUMENTS)} documents checked: "
          + ("all agree" if not problems else f"{len(problems)} problems"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

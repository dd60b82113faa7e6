"""`nnaccel bench` and the benchmark report render real numbers (timings are not asserted).

The report runs as CI runs it, ``python -m benchmarks.report results.json``, so tests and
benchmarks import nothing of each other."""

import json
import subprocess
import sys
from pathlib import Path

from nnaccel.epochs.fast.c_epoch import available
from tests.cli.test_cli import nnaccel

ROOT = Path(__file__).resolve().parents[2]


def test_nnaccel_bench_times_every_backend_here():
    r = nnaccel("bench", "--examples", "200", "--sizes", "784", "10", "10")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    level = available()  # the C kernel's row where it was compiled, else the NumPy fast path's
    assert (f"C kernel ({level})" if level else "NumPy fast path") in lines[2]
    assert "generic array-API path" in lines[3]
    rows = [line.split() for line in lines[2:]]
    assert all(float(row[-2]) > 0 for row in rows)


def _bench(impl, median, examples=1000, config="book-30", sizes=(784, 30, 10)):
    return {"stats": {"median": median},
            "extra_info": {"config": config, "dtype": "float32", "sizes": list(sizes), "mini_batch_size": 10,
                           "cost": "quadratic", "impl": impl, "examples": examples,
                           "flops_per_example": 6 * 784 * 30}}


def test_report_scales_to_an_epoch_and_gives_ratios(tmp_path):
    doc = {"machine_info": {"cpu": {"brand_raw": "Test CPU", "count": 2}, "libraries": {"numpy": "2"}},
           "benchmarks": [_bench("peer-book-loop", 1.0, examples=100), _bench("nnaccel-numpy", 0.5),
                          _bench("peer-torch-cpu", 5.0)]}
    results = tmp_path / "results.json"
    results.write_text(json.dumps(doc))
    done = subprocess.run([sys.executable, "-m", "benchmarks.report", str(results)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "Test CPU" in text
    row = next(line for line in text.splitlines() if "| nnaccel-numpy |" in line)
    cells = [c.strip() for c in row.split("|")]
    assert cells[6] == "30" and cells[8] == "20.0" and cells[9] == "10.00"  # 60k/1000·0.5 s; 600/30; 300/30

"""`nnaccel selftest`: on this GPU-less machine, the no-GPU line and exit 0; and as much of the
GPU branch as runs on a CPU: the path comparison on NumPy paths, the report, the file names."""

import argparse
import json
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

import nnaccel
from nnaccel.backend import cuda_available
from nnaccel.epochs.fast.c_epoch import CEpoch
from nnaccel.epochs.fast.numpy_epoch import NumpyEpoch
from nnaccel.epochs.generic import EpochOptions
from nnaccel.tools import selftest

no_gpu = pytest.mark.skipif(cuda_available(), reason="this machine has a GPU: the no-GPU branch does not run")


def _args(tmp_path, **kw):
    return argparse.Namespace(**{"device": "cuda", "out": str(tmp_path), "quick": True, "skip_tests": False,
                                 "skip_benchmarks": False, **kw})


@no_gpu
def test_without_a_gpu_it_says_so_in_one_line_and_exits_0(tmp_path):
    lines = []
    assert selftest.cmd_selftest(_args(tmp_path), out=lines.append) == 0
    assert len(lines) == 1 and "no CUDA GPU" in lines[0]
    assert list(tmp_path.iterdir()) == []  # nothing written


@no_gpu
@pytest.mark.slow
def test_the_command_without_a_gpu(tmp_path):
    done = subprocess.run([sys.executable, "-m", "nnaccel", "selftest", "--device", "cuda", "--out", str(tmp_path)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 1 and "no CUDA GPU" in done.stdout
    bad = subprocess.run([sys.executable, "-m", "nnaccel", "selftest", "--device", "gpu"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1 and "cuda or cuda:N" in bad.stderr


@pytest.mark.parametrize("name,want", [("NVIDIA H100 80GB HBM3", "nvidia-h100-80gb-hbm3"),
                                       ("NVIDIA GeForce RTX 4090", "nvidia-geforce-rtx-4090"),
                                       ("  A100-SXM4-40GB ", "a100-sxm4-40gb"), ("???", "gpu")])
def test_each_gpu_gets_a_file_name_of_its_own(name, want):
    assert selftest.slug(name) == want


def _make_net():
    return nnaccel.Network([784, 20, 10], device="cpu", dtype="float64", seed=3)


@pytest.fixture
def data(mnist10k):
    return mnist10k.train[0][:205], mnist10k.train[1][:205]


class WrongEta(NumpyEpoch):
    name = "NumPy fast path at twice η"

    def __call__(self, net, data, state):
        return NumpyEpoch(net, replace(self.options, eta=2 * self.options.eta))(net, data, state)


class Raising(NumpyEpoch):
    name = "a path that fails to build"

    def __call__(self, net, data, state):
        raise RuntimeError("NVRTC_ERROR_COMPILATION")


class Never(NumpyEpoch):
    name = "a path for other networks"

    @classmethod
    def applies(cls, net, options):
        return False


def test_the_paths_compared_on_numpy_agree_to_1e_12(data):
    rows = selftest.compare_paths(_make_net, data, EpochOptions(10, 0.5, lmbda=1.0, momentum=0.5),
                                  (CEpoch, NumpyEpoch))
    assert [r["path"] for r in rows] == [CEpoch.name, NumpyEpoch.name]
    for row in rows:
        assert row["status"] == "ok" and row["max_abs_diff"] <= 1e-12 and row["tolerance"] == 1e-12


def test_the_comparison_names_a_path_that_differs_fails_or_does_not_apply(data):
    rows = selftest.compare_paths(_make_net, data, EpochOptions(10, 0.5), (WrongEta, Raising, Never))
    assert [r["status"] for r in rows][1:] == ["error: RuntimeError: NVRTC_ERROR_COMPILATION", "does not apply"]
    assert rows[0]["status"] == "differs" and rows[0]["max_abs_diff"] > 1e-3


def test_a_path_that_fails_its_selfcheck_is_reported_so(data, monkeypatch):
    from nnaccel.epochs.fast import selfcheck

    monkeypatch.setattr(selfcheck, "_VERIFIED", {})
    checked = type("CheckedWrong", (WrongEta,), {"selfcheck": True, "name": "checked wrong path"})
    with pytest.warns(RuntimeWarning, match=r"turned off the checked wrong path \(its numbers differ"):
        rows = selftest.compare_paths(_make_net, data, EpochOptions(10, 0.5), (checked,))
    assert rows[0]["status"] == "turned off by its self-check"


def _bench(impl, median, config="book-30", sizes=(784, 30, 10), dtype="float32"):
    return {"stats": {"median": median},
            "extra_info": {"config": config, "dtype": dtype, "sizes": list(sizes), "mini_batch_size": 10,
                           "cost": "quadratic", "impl": impl, "examples": 6000,
                           "flops_per_example": 6 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))}}


FAKE_BENCH = {"machine_info": {"cpu": {"brand_raw": "Test CPU", "count": 16}, "gpu": "NVIDIA Test GPU"},
              "benchmarks": [_bench("nnaccel-cupy-persistent", 0.002), _bench("nnaccel-cupy-fused", 0.05),
                             _bench("nnaccel-numpy", 0.015), _bench("peer-torch-cuda", 0.09),
                             _bench("nnaccel-cupy-persistent", 0.01, "book-100", (784, 100, 10)),
                             _bench("nnaccel-numpy", 0.02, "book-100", (784, 100, 10))]}
FAKE_PATHS = [{"sizes": [784, 30, 10], "mini_batch_size": 10, "dtype": "float64", "options": "plain SGD",
               "rows": [{"path": "CUDA persistent kernel", "max_abs_diff": 3e-15, "tolerance": 1e-12, "status": "ok"},
                        {"path": "CuPy fused kernels", "max_abs_diff": 4e-15, "tolerance": 1e-12, "status": "ok"}]}]


FAKE_EPOCHS = {
    "environment": {"gpu": "NVIDIA Test GPU", "sms": 132, "cpu": "Test CPU model", "driver": 12090,
                    "nvidia_smi": {"clocks.sm": "1980 MHz", "clocks.max.sm": "1980 MHz"}},
    "kernels": [{"kernel": "sgd_epoch<float, unsigned char, true>", "registers": 72, "local_size_bytes": 0,
                 "shared_size_bytes": 0}],
    "rows": [{"goal": "one [784,30,10] network, m = 10, float32", "examples": 60000, "c_kernel_seconds": 0.12,
              "timing": {"events": {"median": 0.02, "min": 0.019, "max": 0.021, "rounds": 5},
                         "wall": {"median": 0.021, "min": 0.02, "max": 0.022, "rounds": 5}}, "verdict": "met"},
             {"goal": "one [784,100,10] network, m = 10, float32", "examples": 60000,
              "verdict": "not met (path turned off: m × weights = 794,000 is above persistent_epoch.MAX_WORK)"}]}


def test_the_goals_rows_render_with_the_environment_and_each_kernels_local_memory():
    text = "\n".join(selftest.render_epochs(FAKE_EPOCHS))
    assert "| one [784,30,10] network, m = 10, float32 | 0.02 | 0.019–0.021 | 5 | 0.021 | 6.00 |  | met |" in text
    assert "| one [784,100,10] network, m = 10, float32 |  |  |  |  |  |  | not met (path turned off: m × weights" in text
    assert "132 SMs, SM clock 1980 MHz" in text and "host CPU Test CPU model" in text
    assert "`sgd_epoch<float, unsigned char, true>`: 72 registers, 0 B local memory per thread" in text


def test_the_results_are_written_as_json_and_markdown(tmp_path):
    ptxas = {"path": "benchmarks/results/ptxas-report.json",
             "report": {"archs": ["sm_80", "sm_90"], "kernels": [{"registers": 40}, {"registers": 96}]}}
    st = {"gpu": "NVIDIA Test GPU", "paths": FAKE_PATHS, "ptxas": ptxas,
          "tests": {"command": "pytest", "returncode": 0, "summary": "40 passed", "seconds": 12.0}}
    json_path, md_path = selftest.write_results(tmp_path / "results", "NVIDIA Test GPU", FAKE_BENCH, st,
                                                selftest.render_report)
    assert json_path.name == "nvidia-test-gpu.json" and md_path.name == "nvidia-test-gpu.md"
    doc = json.loads(json_path.read_text())
    assert doc["selftest"]["paths"][0]["rows"][0]["path"] == "CUDA persistent kernel"
    assert len(doc["benchmarks"]) == len(FAKE_BENCH["benchmarks"])
    text = md_path.read_text()
    assert "| [784, 30, 10] | 10 | float64 | plain SGD | CUDA persistent kernel | 3e-15 | 1e-12 | ok |" in text
    assert "7.5 × faster than nnaccel-numpy (goal ≥ 5 ×: met)" in text  # 0.015 / 0.002
    assert "45.0 × faster than peer-torch-cuda (goal ≥ 30 ×: met)" in text
    assert "2.0 × faster than nnaccel-numpy (goal ≥ 3 ×: not met)" in text
    assert "2 kernel builds for sm_80, sm_90, at most 96 registers, 0 with spills" in text
    assert "40 passed" in text
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["nvidia-test-gpu.json", "nvidia-test-gpu.md"]


def test_the_gpu_branch_runs_every_step_and_fails_on_a_differing_path(tmp_path, monkeypatch):
    """The GPU branch with the GPU parts stood in for: tests, comparisons, benchmarks, report."""
    calls = []
    monkeypatch.setattr(selftest, "cuda_available", lambda: True)
    monkeypatch.setattr(selftest, "gpu_names", lambda: ["NVIDIA Test GPU"])
    monkeypatch.setattr(selftest, "run_tests", lambda env: calls.append(("tests", env["CUDA_VISIBLE_DEVICES"])) or
                        {"command": "pytest", "returncode": 0, "summary": "40 passed", "seconds": 1.0})
    monkeypatch.setattr(selftest, "gpu_comparisons", lambda device: calls.append(("paths", device)) or FAKE_PATHS)
    monkeypatch.setattr(selftest, "timings", lambda device, quick, out: calls.append(("epochs", quick)) or FAKE_EPOCHS)

    def fake_benchmarks(json_path, env, quick=False):
        calls.append(("benchmarks", quick))
        json_path.write_text(json.dumps(FAKE_BENCH))
        return {"command": "pytest benchmarks", "returncode": 0, "summary": "12 passed", "seconds": 1.0}

    monkeypatch.setattr(selftest, "run_benchmarks", fake_benchmarks)

    def fake_population(json_path, env, quick=False):
        calls.append(("population", quick))
        json_path.write_text(json.dumps({"benchmarks": [_bench("population-cupy", 0.05, "population-K16")]}))
        return {"command": "pytest benchmarks/test_population_speed.py -k cupy", "returncode": 0,
                "summary": "6 passed", "seconds": 1.0}

    monkeypatch.setattr(selftest, "run_population_benchmarks", fake_population)
    lines = []
    assert selftest.cmd_selftest(_args(tmp_path), out=lines.append) == 0
    assert [c[0] for c in calls] == ["tests", "paths", "epochs", "benchmarks", "population"]
    assert calls[0][1] == "0" and calls[2][1] is True and calls[3][1] is True
    assert any("--quick: a smoke test" in line for line in lines)
    assert any("sgd_epoch<float, unsigned char, true>: 72 registers, 0 B local memory" in line for line in lines)
    assert "passed" in lines[-1] and (tmp_path / "nvidia-test-gpu.md").is_file()
    text = (tmp_path / "nvidia-test-gpu.md").read_text()
    assert "not met (path turned off: m × weights" in text and "Test CPU model" in text
    assert "7.5 × faster than nnaccel-numpy (goal ≥ 5 ×: met)" in text  # benchmarks.report, run as a command
    assert "population-cupy" in text  # the population rows join the table
    assert not list(tmp_path.glob(".*"))  # the intermediate benchmark JSON is gone
    assert any("CUDA persistent kernel: ok" in line for line in lines)

    wrong = [dict(FAKE_PATHS[0], rows=[dict(FAKE_PATHS[0]["rows"][0], status="differs", max_abs_diff=0.3)])]
    monkeypatch.setattr(selftest, "gpu_comparisons", lambda device: wrong)
    lines = []
    assert selftest.cmd_selftest(_args(tmp_path, skip_tests=True, skip_benchmarks=True), out=lines.append) == 1
    assert "FAILED" in lines[-1]
    with pytest.raises(nnaccel.NNAccelError, match="1 CUDA device"):
        selftest.cmd_selftest(_args(tmp_path, device="cuda:3"), out=lines.append)


def test_the_benchmark_rows_it_asks_for_exist():
    """Every row and network named in BENCH_ROWS is one that benchmarks/test_train_speed.py
    collects when asked as selftest asks (NNACCEL_BENCH_IMPLS), and no other: the suite is run
    as a command, so the tests import nothing of it."""
    done = subprocess.run([sys.executable, "-m", "pytest", "benchmarks/test_train_speed.py", "--collect-only", "-q",
                           "-p", "no:cacheprovider"], cwd=selftest.ROOT, capture_output=True, text=True,
                          env=dict(os.environ, NNACCEL_BENCH_IMPLS=selftest.BENCH_ROWS), timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    ids = {line.split("[", 1)[1].rstrip("]") for line in done.stdout.splitlines() if "::test_epoch[" in line}
    rows = {item.partition(":")[0] for item in selftest.BENCH_ROWS.split(",")}
    assert {"nnaccel-cupy-persistent", "nnaccel-cupy-fused", "nnaccel-cupy-generic", "peer-torch-cuda",
            "peer-torch-cuda-graphs", "nnaccel-jax-cuda", "peer-jax-scan-cuda", "nnaccel-numpy"} <= rows
    for row in rows:  # an id is <network>-<dtype>-<row>
        assert any(i.endswith(f"-{row}") for i in ids), f"benchmarks/test_train_speed.py has no row {row}"
    numpy = {i.rsplit("-float", 1)[0] for i in ids if i.endswith("-nnaccel-numpy")}
    assert numpy == {"book-30", "book-30-xent", "book-100"}


def test_the_path_comparisons_cover_the_goals_networks():
    assert ([784, 30, 10], 10) in selftest.COMPARED and ([784, 100, 10], 10) in selftest.COMPARED
    assert np.isclose(selftest.TOLERANCE["float64"], 1e-12)


def test_the_benchmarks_run_with_the_selftests_rows_in_the_source_checkout(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(selftest, "_run", lambda command, env, timeout: seen.update(command=command, env=env)
                        or (0, "5 passed", 1.0))
    result = selftest.run_benchmarks(tmp_path / "b.json", {"PATH": "x"}, quick=True)
    assert seen["env"]["NNACCEL_BENCH_IMPLS"] == selftest.BENCH_ROWS and seen["env"]["NNACCEL_BENCH_QUICK"] == "1"
    assert "benchmarks/test_train_speed.py" in seen["command"]
    assert f"--benchmark-json={tmp_path / 'b.json'}" in seen["command"]
    assert result["summary"] == "5 passed"


@pytest.mark.gpu_emulated
def test_the_comparison_runs_the_cupy_paths_own_code_emulated(data):
    """compare_paths on the CuPy fused path's code, its kernels through tests/kernel_emulator.py."""
    from nnaccel.epochs.fast import supported
    from tests.gpu.test_cupy_fast import emulated

    on_numpy = type("EmulatedOnNumpy", (emulated(),), {"applies": classmethod(lambda cls, net, o: supported(net, o))})
    rows = selftest.compare_paths(_make_net, data, EpochOptions(10, 0.5, lmbda=1.0, momentum=0.5), (on_numpy,))
    assert rows[0]["status"] == "ok" and rows[0]["max_abs_diff"] <= 1e-12


def test_every_comparison_the_gpu_runs_passes_on_the_cpu_paths():
    """gpu_comparisons itself, pointed at NumPy: the C kernel and the NumPy path agree with the
    generic path on every network, dtype and option set the GPU run compares."""
    results = selftest.gpu_comparisons("cpu", backend="numpy")
    assert len(results) == len(selftest.COMPARED) * 2 * 2
    for case in results:
        statuses = {row["path"]: row["status"] for row in case["rows"]}
        assert statuses[NumpyEpoch.name] == "ok", case
        assert statuses[CEpoch.name] in ("ok", "does not apply"), case  # m = 128 on [784,100,10] is BLAS's

"""The static GPU model (benchmarks/gpu_model.py) counts what the SASS holds, and the kernel that
PersistentEpoch picks for [784,30,10] stays within its predicted budget with no local memory.

The model runs as a user runs it, ``python -m benchmarks.gpu_model … --json``, so tests and
benchmarks import nothing of each other. It needs the cuda extra (CuPy, NVRTC, nvdisasm).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.gpu_emulated, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
# Issue 15's goal for one [784,30,10] network, m = 10, float32, on an H100/H200 (sm_90): at least
# 5× the C kernel's 0.12 s per 60k epoch on one CPU core. The model's prediction must stay under it.
BUDGET_S = 0.024
# What the chosen kernel is predicted at today (0.0194 s for sgd_epoch_registers split across the
# inputs by a cluster of 4, CAP = 32; 0.0304 s calibrated by the H200's phase clocks), plus about
# 10 %: a change that makes the book network's kernel slower, or makes the chooser pick a slower
# one, fails here (the budget test above holds it under BUDGET_S too).
CEILING_S = 0.0215
# Issue 15's goal for a population through the same kernel, one block a member: at least 5,000
# network-epochs a second on 132 SMs (predicted today: 5,344, with backprop in the feedforward's
# warps; 3,747 before it).
POPULATION_GOAL = 5000
BOOK_NETWORK = [784, 30, 10]

# Kernels known to miss the budget, each with why: for these alone the budget check is an expected
# failure (strict: it fails once the kernel meets the budget, so the entry must then go). Empty since
# the book's network trains in a cluster split across its inputs (predicted 0.0194 s; the one-block
# kernel before it, CAP = 112, predicted 0.0366 s, measured 0.057 s on an H200 in an earlier build).
KNOWN_OVER_BUDGET: dict = {}


def _over_budget_known(kernel):
    return next((why for prefix, why in KNOWN_OVER_BUDGET.items() if kernel.startswith(prefix)), None)


def _model(tmp_path, *args):
    """The model's JSON for ``args``; skips (a failure in CI) where the cuda extra is missing."""
    pytest.importorskip("cupy", reason="pip install -e '.[cuda]' (CuPy, NVRTC, nvdisasm)")
    out = tmp_path / "model.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "benchmarks.gpu_model", *args, "--json", str(out)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600)
    if done.returncode == 2 and ("nvdisasm not found" in done.stderr or "libnvrtc" in done.stderr):
        pytest.skip(done.stderr.strip())
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_text())


TINY = """
// PHASE feedforward
extern "C" __global__ void tiny(float *out, const float *x, int n)
{
    float a0 = 0.f, a1 = 1.f, a2 = 2.f, a3 = 3.f;
#pragma unroll 1
    for (int i = threadIdx.x; i < n; i += 32) { // TRIPS cdiv(n_in, 32)
        const float v = x[i];
        a0 = fmaf(a0, v, 1.f);
        a1 = fmaf(a1, v, 2.f);
        a2 = fmaf(a2, v, 3.f);
        a3 = fmaf(a3, v, 4.f);
    }
// PHASE update
#pragma unroll 4
    for (int j = 0; j < n; j++) // TRIPS m
        a0 = fmaf(a0, x[j], a1);
    out[threadIdx.x] = a0 + a1 + a2 + a3;
}
"""


def test_a_loop_of_four_fma_run_trips_times_counts_four_times_trips(tmp_path):
    """4 FFMA a trip × cdiv(784, 32) = 25 trips = 100; a loop unrolled 4 times over m = 10
    examples holds 4 copies and runs twice, its remainder twice: 10 FFMA, and 3 FADD after it."""
    source = tmp_path / "tiny.cu"
    source.write_text(TINY)
    result = _model(tmp_path, "--source", str(source), "--kernel", "tiny", "--sizes", "784", "30", "10",
                    "--m", "10")["predicted"][0]
    batches = result["batches"]
    assert result["phases"]["feedforward"]["kinds"]["FFMA"] == 4 * 25
    assert result["phases"]["update"]["kinds"]["FFMA"] == 10 + 3
    assert {(lp["source_line"], lp["unroll"]) for lp in result["loops"]} >= {(7, 1), (16, 4)}
    assert batches == 6000 and result["seconds"] > 0


@pytest.fixture(scope="module")
def book_network(tmp_path_factory):
    return _model(tmp_path_factory.mktemp("model"), "--sizes", *map(str, BOOK_NETWORK), "--m", "10",
                  "--dtype", "float32", "--arch", "90")


def test_the_book_network_is_predicted_within_its_budget_on_sm_90(book_network):
    """The chooser's kernel for [784,30,10], m = 10, float32: predicted ≤ BUDGET_S per 60k epoch."""
    result = book_network["predicted"][0]
    assert result["sizes"] == BOOK_NETWORK and result["arch"] == "sm_90" and result["batches"] == 6000
    assert result["phases"]["feedforward"]["kinds"]["FFMA"] > 0  # the model counted something
    why = _over_budget_known(result["kernel"])
    if why and result["seconds"] > BUDGET_S:
        pytest.xfail(f"{result['kernel']} is predicted at {result['seconds']:.3g} s: {why}")
    assert not why, f"{result['kernel']} now meets the {BUDGET_S} s budget: remove it from KNOWN_OVER_BUDGET"
    assert result["seconds"] <= BUDGET_S, (
        f"{result['kernel']} is predicted at {result['seconds']:.3g} s per epoch, above the {BUDGET_S} s budget")


def test_the_book_network_is_predicted_no_slower_than_today(book_network):
    """The chooser's kernel for [784,30,10], m = 10, float32, sm_90 (one network: a cluster of 4
    blocks across the inputs) stays under CEILING_S, its cluster barriers counted."""
    result = book_network["predicted"][0]
    assert result["kernel"] == "sgd_epoch_registers<float, unsigned char, 10, 32, 4, true>", result["kernel"]
    assert result["blocks_per_network"] == 4
    assert result["phases"]["feedforward"]["cluster_barriers"] == result["phases"]["backprop"]["cluster_barriers"] \
        == result["batches"]  # one a mini-batch each: the shares of z¹, then every example's δ
    assert 0 < result["seconds"] <= CEILING_S, (
        f"{result['kernel']} is predicted at {result['seconds']:.3g} s per epoch, above today's {CEILING_S} s")


def test_the_modelled_kernel_uses_no_local_memory(book_network):
    """The book network's kernel as the model disassembled it: a 0-byte stack frame and no LDL/STL
    in its SASS. (Every instantiation of every kernel, sm_80 and sm_90, has a 0-byte stack frame and
    no spill: tests/gpu/test_nvrtc_compile.py, from ptxas; `python -m benchmarks.gpu_model --all`
    tabulates them, with their LDL/STL, in benchmarks/results/gpu-model.md.)"""
    result = book_network["predicted"][0]
    assert result["stack_frame"] == 0 and result["local_instructions"] == 0, result["kernel"]
    assert result["phases"]["feedforward"]["kinds"]["LDL/STL"] == 0


def test_a_population_is_predicted_from_how_many_member_blocks_an_sm_holds(book_network):
    """132 members do not fit 132 SMs as clusters of 4: the chooser gives each one block, the CAP =
    112 kernel, whose 255 registers × 256 threads fill an SM's 65,536 registers: one member's block an
    SM (its shared memory would allow more), so 132, 264 and 528 members run at one rate, in waves;
    were two members to share an SM they would split its issue slots, so they could not double it."""
    result = book_network["predicted"][0]
    assert result["population_kernel"] == "sgd_epoch_registers<float, unsigned char, 10, 112>"
    pop = result["population"]
    assert pop["label"] == "predicted" and -(-pop["registers"] // 8) * 8 * pop["threads"] > 65536 // 2
    assert pop["blocks_per_sm"] == pop["limits"]["registers"] == 1 < pop["limits"]["shared"]
    rates = pop["rates"]
    assert set(rates) == {"132", "264", "528"}
    assert rates["132"]["per_second"] == pytest.approx(rates["528"]["per_second"])
    assert rates["132"]["per_second"] < rates["264"]["two_per_sm"] < 2 * rates["132"]["per_second"]


def test_a_population_of_the_book_network_is_predicted_at_its_goal(book_network):
    """132 members of [784,30,10], a block each: predicted ≥ POPULATION_GOAL network-epochs/s."""
    result = book_network["predicted"][0]
    assert result["population_per_second"] >= POPULATION_GOAL, (
        f"{result['population_kernel']}: {result['population_per_second']:,.0f} network-epochs/s predicted")


# A loop over a warp's share of the examples (`for (e = warp; e < 10; e += warps)`, warps 0 and 1
# take two, the rest one) beside the same loop counted as every warp's worst (cdiv(10, warps)).
SHARES = """
// PHASE backprop
extern "C" __global__ void shares(float *out, const float *x)
{
    const int warp = threadIdx.x / 32, warps = blockDim.x / 32;
    float a = x[threadIdx.x];
    for (int e = warp; e < 10; e += warps) { // TRIPS TRIPS_HERE
        a = fmaf(a, x[e], 1.f);
        a = fmaf(a, x[e + 1], 2.f);
        a = fmaf(a, x[e + 2], 3.f);
        a = fmaf(a, x[e + 3], 4.f);
    }
    out[threadIdx.x] = a;
}
"""


def test_each_warp_counts_its_own_share_of_a_loop_over_the_warps(tmp_path):
    """256 threads, 8 warps on 4 sub-partitions (warp w on w % 4): the busiest issues warps 0 and 4,
    2 + 1 trips, not 2 × 2; warp 0's own counts are 2 trips; its latency is warp 0's 2 trips."""
    results = {}
    for name, trips in (("own", "max(0, cdiv(10 - warp, warps))"), ("worst", "cdiv(10, warps)")):
        source = tmp_path / f"{name}.cu"
        source.write_text(SHARES.replace("TRIPS_HERE", trips))
        results[name] = _model(tmp_path, "--source", str(source), "--kernel", "shares", "--sizes", "784", "30",
                               "10", "--m", "10", "--threads", "256")["predicted"][0]["phases"]["backprop"]
    own, worst = results["own"], results["worst"]
    assert own["kinds"]["FFMA"] == worst["kinds"]["FFMA"] == 4 * 2  # warp 0's: 2 trips
    assert own["latency"] == pytest.approx(worst["latency"])  # warp 0 runs 2 trips either way
    assert worst["bounds"]["issue"] == 2 * worst["issue"]  # warps 0 and 4, each at warp 0's count
    trip = worst["bounds"]["issue"] - own["bounds"]["issue"]  # warp 4 runs one trip fewer than warp 0
    assert 4 <= trip < own["issue"] / 2  # a trip: its 4 FFMA and its loads, less than half the warp's work


# nvdisasm -gi's comments: an inlined instruction's lines one comment a level, innermost first; a
# CUDA header's inlined intrinsic names the header's file and line, then the kernel's.
LISTING = """
        //## File "/k.cu", line 10 inlined at "/k.cu", line 20
        //## File "/k.cu", line 20
        /*0000*/                   FFMA R1, R2, R3, R4 ;
        //## File "/usr/local/cuda/include/sm_30_intrinsics.hpp", line 449 inlined at "/k.cu", line 30
        //## File "/k.cu", line 30
        /*0010*/                   SHFL.BFLY PT, R1, R1, 0x1, 0x1f ;
        /*0020*/                   FADD R1, R1, R2 ;
"""


def test_an_instructions_inline_chain_holds_the_kernels_own_lines(tmp_path):
    """The chain a TAKEN block is matched against (``python -m benchmarks.sass``, as the model reads
    a listing): the function's line and its call sites' in the kernel's file (10, 20), not a
    header's line 449, which could fall inside one of the .cu's blocks; an instruction under no new
    comment keeps the chain before it."""
    listing = tmp_path / "listing.sass"
    listing.write_text(LISTING)
    done = subprocess.run([sys.executable, "-m", "benchmarks.sass", str(listing)], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 0, done.stderr
    ffma, shfl, fadd = (json.loads(line) for line in done.stdout.splitlines())
    assert (ffma["opcode"], ffma["line"], ffma["chain"]) == ("FFMA", 20, [10, 20, 20])
    assert (shfl["line"], shfl["chain"]) == (30, [30, 30])
    assert fadd["chain"] == shfl["chain"]


INLINED = """
// PHASE update
__device__ __forceinline__ float maybe(float a, float b, int flag)
{
    if (flag) { // TAKEN 0
        a = fmaf(a, b, 1.f);
        a = fmaf(a, b, 2.f);
        a = fmaf(a, b, 3.f);
    }
    return a;
}
extern "C" __global__ void inlined(float *out, const float *x, int flag)
{
    out[threadIdx.x] = maybe(x[threadIdx.x], x[0], flag);
}
"""


def test_a_taken_share_inside_an_inlined_function_counts_at_its_call_site(tmp_path):
    """nvdisasm files an inlined function's instructions under its call site's line too: a TAKEN 0
    block in the function is not counted there (the three FFMAs of the untaken branch)."""
    source = tmp_path / "inlined.cu"
    source.write_text(INLINED)
    phases = _model(tmp_path, "--source", str(source), "--kernel", "inlined", "--sizes", "784", "30", "10",
                    "--m", "10")["predicted"][0]["phases"]
    assert sum(row["kinds"]["FFMA"] for row in phases.values()) == 0
    source.write_text(INLINED.replace("// TAKEN 0", "// TAKEN 1"))
    phases = _model(tmp_path, "--source", str(source), "--kernel", "inlined", "--sizes", "784", "30", "10",
                    "--m", "10")["predicted"][0]["phases"]
    assert sum(row["kinds"]["FFMA"] for row in phases.values()) >= 3


# What the model is calibrated by (benchmarks/gpu_model.py's CALIBRATION): block 0's cycles per
# mini-batch on an H200, measured 2026-12-04, of the kernel kept beside them.
PHASE_CLOCKS = ROOT / "benchmarks" / "results" / "nvidia-h200-phase-clocks.json"
MEASURED_KERNEL = ROOT / "benchmarks" / "results" / "nvidia-h200-phase-clocks.cu"


def test_the_calibrated_model_reproduces_the_h200_phase_clocks_it_was_fitted_to(tmp_path):
    """Calibrated, the model's prediction for the kernel the H200 measured gives back the measured
    cycles of each phase (within 1 %): a change to the model or to its constants that loses the
    fit fails here, until the calibration is fitted again."""
    measured = json.loads(PHASE_CLOCKS.read_text())[0]
    assert measured["sizes"] == BOOK_NETWORK and measured["dtype"] == "float32"
    result = _model(tmp_path, "--source", str(MEASURED_KERNEL), "--kernel",
                    "sgd_epoch_registers<float, unsigned char, 10, 112>", "--sizes", *map(str, BOOK_NETWORK),
                    "--m", "10", "--arch", "90")["predicted"][0]
    calibrated, cycles = result["calibrated"], measured["cycles_per_batch"]
    assert calibrated["label"] == "predicted, calibrated by the H200 phase clocks of 2026-12-04"
    for phase in ("gather", "feedforward", "backprop"):
        assert calibrated["phases"][phase] == pytest.approx(cycles[phase], rel=0.01), phase
    # the measured update holds what the model calls "other" inside the mini-batch loop
    update = calibrated["phases"]["update"] + calibrated["phases"]["other"]
    assert update == pytest.approx(cycles["update"], rel=0.01)
    assert calibrated["cycles_per_batch"] == pytest.approx(cycles["total"], rel=0.01)
    uncalibrated = result["cycles_per_batch"]
    assert calibrated["cycles_per_batch"] > 1.3 * uncalibrated  # the raw model stays beside it, and optimistic

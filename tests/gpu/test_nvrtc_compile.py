"""Every kernel a GPU could be asked to run compiles for sm_80 and sm_90, without spills.

NVRTC 12 and CuPy come from PyPI (nvidia-cuda-nvrtc-cu12, cupy-cuda12x); no GPU and no CUDA
toolkit are needed. Compiled are the CuPy fast path's ElementwiseKernels in every dtype and
argument layout it calls them with, in the source CuPy itself generates, and the persistent
kernel's CUDA source in every template instantiation. A compile error fails, and so do a
register spill and a shared-memory need above the per-block limit (ptxas's report).
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from nnaccel.epochs.fast import nvrtc as compile_route
from tests.gpu_compile import nvrtc
from tests.gpu_compile.elementwise import record_fast_path
from tests.gpu_compile.nvrtc import ARCHS, Resources, compile_cuda, cupy_options, limit_problems
from tests.gpu_compile.ptxas_report import write_report
from tests.gpu_compile.targets import elementwise_targets, persistent_targets, sample_target

pytestmark = pytest.mark.gpu_emulated


@pytest.fixture(scope="module")
def route():
    """CuPy's private NVRTC route; skips (a failure in CI) where CuPy or NVRTC is not installed."""
    pytest.importorskip("cupy", reason="pip install cupy-cuda12x nvidia-cuda-nvrtc-cu12 (the cuda extra)")
    try:
        nvrtc.nvrtc_version()
    except Exception as error:  # CuPy finds no libnvrtc.so.12
        pytest.skip(f"NVRTC 12 not loadable ({type(error).__name__}: {error}); pip install nvidia-cuda-nvrtc-cu12")
    return nvrtc.cupy_route()


@pytest.fixture(scope="module")
def recorder():
    return record_fast_path()


def _compile_all(targets, arch):
    """Compile each target; the problems found, one line each (empty: all compiled cleanly)."""
    from cupy.cuda.compiler import CompileException

    problems = []
    for t in targets:
        if not t.builds_for(arch):
            continue
        try:
            compiled = compile_cuda(t.source, arch, t.options, t.name_expressions)
        except CompileException as error:
            problems.append(f"{t.name} ({t.detail}) does not compile for sm_{arch}:\n{error}")
            continue
        expected = [compiled.mapping.get(e) for e in t.name_expressions] or [t.name]
        for name in expected:
            if name not in compiled.functions:
                problems.append(f"{t.name} ({t.detail}): no kernel {name} in ptxas's report for sm_{arch}")
        for name, resources in compiled.functions.items():
            problems += limit_problems(f"{t.name} [{name}] ({t.detail})", resources, arch, t.dynamic_shared, t.threads)
    return problems


def test_cupy_private_route_is_the_pinned_one(route):
    """The one test that fails, saying what to update, when a CuPy upgrade moves the private
    pieces the compile tests stand on (or CuPy is not the version pinned in the cuda extra)."""
    nvrtc.cupy_route(check_version=True)
    major, _ = nvrtc.nvrtc_version()
    assert major == 12, f"NVRTC {major} loaded; cupy-cuda12x needs nvidia-cuda-nvrtc-cu12"
    options = cupy_options()
    assert "-ftz=true" in options and any(o.startswith("--std=") for o in options), options
    headers = nvrtc.cuda_header_version(options)
    assert headers is not None and headers // 1000 == major, (
        f"CuPy compiles against the CUDA headers of version {headers} with NVRTC {major}: "
        f"pip install nvidia-cuda-runtime-cu12 so that it finds CUDA 12's (include path: {options})")


def test_every_kernel_the_fast_path_builds_is_called_in_the_recorded_runs(recorder):
    assert recorder.specs, "Kernels(factory) built no kernel through the recorder"
    assert not recorder.unexercised(), (
        f"{recorder.unexercised()} are built by cupy_epoch.Kernels but never called in the runs of "
        "tests/gpu_compile/elementwise.record_fast_path(): add a run that uses them so they get compiled")


def test_the_activation_is_compiled_in_both_layouts_the_fast_path_uses(recorder):
    """z (m, s) + b (s,) broadcast is a 2-D kernel with a strided b; a one-row mini-batch is 1-D."""
    layouts = {(v.dtype, str(v.layout[1])) for v in recorder.variants if v.spec.name == "nnaccel_sigmoid"}
    assert layouts == {(d, s) for d in ("float32", "float64") for s in ("2-D strided", "1-D")}


@pytest.mark.parametrize("arch", ARCHS)
def test_every_elementwise_kernel_compiles_without_spills(route, recorder, arch):
    targets = elementwise_targets(recorder)
    assert len(targets) >= 2 * len(recorder.specs)  # each kernel in float32 and float64 at least
    problems = _compile_all(targets, arch)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("arch", ARCHS)
def test_the_persistent_kernel_compiles_in_every_instantiation(route, arch):
    targets = persistent_targets()
    if targets is None:
        pytest.skip("nnaccel/epochs/fast/persistent_epoch.py does not define compile_targets() yet")
    assert targets and all(t.name_expressions for t in targets), "compile_targets() lists no instantiation"
    problems = _compile_all(targets, arch)
    assert not problems, "\n".join(problems)


def _register_target():
    (target,) = [t for t in persistent_targets() or () if t.detail.endswith("register_epoch.cu") and not t.archs]
    return target


@pytest.mark.parametrize("arch", ARCHS)
def test_the_persistent_kernels_have_no_local_memory_in_any_instantiation(route, arch):
    """Both kernels address shared memory by offsets from its base (no pointer table) and
    register_epoch.cu holds w¹ in registers: every instantiation has a 0-byte stack frame and no
    spill; register_epoch.cu's fit 256 threads' registers (its __launch_bounds__)."""
    for target in persistent_targets(arch):
        compiled = compile_cuda(target.source, arch, target.options, target.name_expressions)
        for name in target.name_expressions:
            resources = compiled.functions[compiled.mapping[name]]
            assert (resources.stack_frame, resources.spill_stores, resources.spill_loads) == (0, 0, 0), (name, resources)
    target = _register_target()
    compiled = compile_cuda(target.source, arch, target.options, target.name_expressions)
    for name in target.name_expressions:
        assert not limit_problems(name, compiled.functions[compiled.mapping[name]], arch, threads=target.threads)


def test_the_launcher_refuses_a_block_the_compiled_registers_do_not_fit(route):
    """PersistentEpoch's check_block, fed ptxas's register count for sm_90 (as cupy's
    RawKernel.attributes gives num_regs on a GPU): 256 threads pass, 512 are refused."""
    from nnaccel.errors import NNAccelError
    from nnaccel.epochs.fast.persistent_epoch import check_block

    target = _register_target()
    compiled = compile_cuda(target.source, "90", target.options, target.name_expressions)
    registers = max(r.registers for r in compiled.functions.values())
    kernel = type("Kernel", (), {"attributes": {"num_regs": registers, "max_threads_per_block": 1024}})()
    assert registers > 128  # so that 512 threads cannot fit
    check_block(kernel, 256)
    with pytest.raises(NNAccelError, match=f"{registers} registers"):
        check_block(kernel, 512)


@pytest.mark.parametrize("arch", ARCHS)
def test_the_books_network_keeps_its_weights_in_shared_memory_in_float32(route, arch):
    """[784, 30, 10] at m = 10 in float32 (the issue's 95 KB of weights, plus the batch's a and δ)
    fits the opt-in shared memory of a block on the A100 and on the H100."""
    targets = persistent_targets(arch)
    if targets is None:
        pytest.skip("nnaccel/epochs/fast/persistent_epoch.py does not define compile_targets() yet")
    from nnaccel.epochs.fast.persistent_epoch import shared_bytes

    static = max(r.shared for t in targets
                 for r in compile_cuda(t.source, arch, t.options, t.name_expressions).functions.values())
    need = static + shared_bytes([784, 30, 10], 10, 4, True)
    assert not limit_problems("the book's network", Resources(shared=static), arch, need - static), need


@pytest.mark.parametrize("arch", ARCHS)
def test_a_cu_source_compiles_in_each_instantiation_to_its_lowered_name(route, arch):
    target = sample_target()
    assert not _compile_all([target], arch)
    compiled = compile_cuda(target.source, arch, target.options, target.name_expressions)
    assert set(compiled.mapping) == {"scale_rows<float>", "scale_rows<double>"}
    assert all(compiled.functions[m].entry and compiled.functions[m].registers > 0 for m in compiled.mapping.values())


def test_a_compile_error_fails_the_check(route):
    sample = sample_target()
    target = replace(sample, name="broken", source=sample.source.replace("T eta)", "T eta, undeclared_type u)"))
    (problem,) = _compile_all([target], "80")
    assert "does not compile" in problem and "undeclared_type" in problem


def test_a_program_is_compiled_once_for_every_process_that_shares_the_cache_folder(route, tmp_path, monkeypatch):
    """With NNACCEL_NVRTC_CACHE set, a second process (here: the in-process cache emptied) reads the
    program back, cubin, ptxas's report and lowered names, instead of running NVRTC again."""
    monkeypatch.setenv(compile_route.CACHE_VARIABLE, str(tmp_path))
    monkeypatch.setattr(compile_route, "_CACHE", {})
    target = sample_target()
    first = compile_cuda(target.source, "80", target.options, target.name_expressions)
    monkeypatch.setattr(compile_route, "_CACHE", {})
    monkeypatch.setattr(compile_route, "_nvrtc", lambda *args: pytest.fail("compiled a second time"))
    again = compile_cuda(target.source, "80", target.options, target.name_expressions)
    assert again == first and again.functions and set(again.mapping) == {"scale_rows<float>", "scale_rows<double>"}


def test_a_cache_entry_a_crash_left_short_or_a_folder_that_cannot_hold_one_only_costs_a_compile(
        route, tmp_path, monkeypatch):
    """A short or foreign entry is compiled again and overwritten, never trusted or fatal; a cache
    folder that cannot be made (a file in its way) leaves the compile working, uncached."""
    target = sample_target()
    monkeypatch.setenv(compile_route.CACHE_VARIABLE, str(tmp_path))
    monkeypatch.setattr(compile_route, "_CACHE", {})
    first = compile_cuda(target.source, "80", target.options, target.name_expressions)
    (entry,) = tmp_path.glob("*.json")
    def same(compiled):  # the log differs between two compiles only by ptxas's compile times
        return (compiled.cubin, compiled.mapping, compiled.functions) == (first.cubin, first.mapping, first.functions)

    for broken in ("", '{"cubin": "AAAA"}', "[1, 2]"):
        entry.write_text(broken)
        monkeypatch.setattr(compile_route, "_CACHE", {})
        assert same(compile_cuda(target.source, "80", target.options, target.name_expressions))
        assert json.loads(entry.read_text())["mapping"] == first.mapping  # overwritten whole
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv(compile_route.CACHE_VARIABLE, str(tmp_path / "a-file" / "cache"))
    monkeypatch.setattr(compile_route, "_CACHE", {})
    assert same(compile_cuda(target.source, "80", target.options, target.name_expressions))


def test_a_register_spill_fails_the_check(route):
    """32 live floats under --maxrregcount=16 must spill; ptxas's report says so and the check fails."""
    source = """extern "C" __global__ void spill(const float* x, float* y) {
        float r[32];
    #pragma unroll
        for (int i = 0; i < 32; ++i) r[i] = x[threadIdx.x * 32 + i];
    #pragma unroll
        for (int j = 0; j < 32; ++j) {
            float s = 0;
    #pragma unroll
            for (int i = 0; i < 32; ++i) s += r[i] * r[(i + j) % 32];
            y[threadIdx.x * 32 + j] = s;
        }
    }"""
    spilled = compile_cuda(source, "80", cupy_options(("--maxrregcount=16",))).functions["spill"]
    assert spilled.spill_stores > 0 and limit_problems("spill", spilled, "80")
    clean = compile_cuda(source, "80", cupy_options()).functions["spill"]
    assert clean.spill_stores == 0 and not limit_problems("spill", clean, "80")


def test_shared_memory_above_the_per_block_limit_fails_the_check():
    """48 KB static; with the opt-in, 163 KB in all on sm_80 and 227 KB on sm_90."""
    assert not limit_problems("k", Resources(shared=48 * 1024), "80")
    assert limit_problems("k", Resources(shared=48 * 1024 + 4), "80")
    assert not limit_problems("k", Resources(shared=1024), "80", dynamic_shared=162 * 1024)
    assert limit_problems("k", Resources(shared=1024), "80", dynamic_shared=163 * 1024)
    assert not limit_problems("k", Resources(shared=1024), "90", dynamic_shared=226 * 1024)
    assert limit_problems("k", Resources(shared=1024), "90", dynamic_shared=227 * 1024)


def test_a_launch_that_needs_more_registers_than_a_block_has_fails_the_check():
    """64 K registers per block: 64 registers × 1024 threads fit, 72 × 1024 do not."""
    assert not limit_problems("k", Resources(registers=64), "90", threads=1024)
    assert limit_problems("k", Resources(registers=72), "90", threads=1024)
    assert not limit_problems("k", Resources(registers=72), "90", threads=256)


def test_ptxas_report_reads_registers_spills_and_shared_memory():
    log = """ptxas info    : 0 bytes gmem
ptxas info    : Compiling entry function 'k' for 'sm_80'
ptxas info    : Function properties for k
ptxas         .     8 bytes stack frame, 4 bytes spill stores, 12 bytes spill loads
ptxas info    : Used 40 registers, used 1 barriers, 1024 bytes smem, 364 bytes cmem[0]
"""
    assert nvrtc.parse_ptxas(log) == {"k": Resources(registers=40, spill_stores=4, spill_loads=12, stack_frame=8,
                                                     shared=1024, constant=364, barriers=1, entry=True)}


def test_the_ptxas_report_is_written_for_every_kernel_and_arch(route, tmp_path):
    path = write_report(tmp_path / "ptxas-report.json")
    report = json.loads(path.read_text())
    rows = report["kernels"]
    assert {r["arch"] for r in rows} == {f"sm_{a}" for a in ARCHS}
    assert {"nnaccel_sigmoid", "nnaccel_update", "nnaccel_update_momentum"} <= {r["kernel"] for r in rows}
    assert all(r["registers"] > 0 and r["spill_stores"] == 0 for r in rows)
    cuda = [r for r in rows if r["kind"] == "cuda"]
    assert {r["kernel"].split("<")[0] for r in cuda} == {"sgd_epoch", "sgd_epoch_registers"}
    assert {r["arch"] for r in cuda if r["kernel"].count(",") == 4} == {"sm_90"}  # clusters: sm_90's
    assert all(r["stack_frame"] == 0 for r in cuda)
    assert report["cupy"] == nvrtc.PINNED_CUPY and report["nvrtc"].startswith("12.")

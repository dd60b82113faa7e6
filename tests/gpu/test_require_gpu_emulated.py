"""In CI (NNACCEL_REQUIRE_GPU_EMULATED=1) a gpu_emulated test that skips fails instead.

Run on a tiny test file in a subprocess whose conftest takes the hooks of tests/conftest.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CONFTEST = """
from tests.conftest import pytest_make_collect_report, pytest_runtest_makereport  # noqa: F401

def pytest_configure(config):
    config.addinivalue_line("markers", "gpu_emulated: GPU code proven on the CPU")
"""
TESTS = """
import pytest

@pytest.mark.gpu_emulated
def test_skips_inside():
    pytest.skip("no NVRTC")

@pytest.mark.gpu_emulated
@pytest.mark.skipif(True, reason="no g++")
def test_skipped_by_mark():
    pass

@pytest.mark.gpu_emulated
@pytest.mark.xfail(reason="expected")
def test_expected_failure():
    assert False

@pytest.mark.gpu_emulated
def test_runs():
    pass

def test_unmarked_skip():
    pytest.skip("not in the group")
"""
MODULE_SKIP = """
import pytest
pytest.importorskip("no_such_module_nnaccel")
pytestmark = pytest.mark.gpu_emulated
"""


def _pytest(tmp_path, required):
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_tiny.py").write_text(TESTS)
    (tmp_path / "test_module_skip.py").write_text(MODULE_SKIP)
    env = {k: v for k, v in os.environ.items() if k != "NNACCEL_REQUIRE_GPU_EMULATED"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    if required:
        env["NNACCEL_REQUIRE_GPU_EMULATED"] = "1"
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider",
                           "--continue-on-collection-errors", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    return done.stdout.splitlines()[-1], done.stdout


@pytest.mark.gpu_emulated
@pytest.mark.slow
def test_a_skipped_gpu_emulated_test_fails_where_the_group_is_required(tmp_path):
    summary, out = _pytest(tmp_path, required=True)
    # the two skipping tests fail (one in setup: an error), the module that skipped at
    # collection is an error; the xfail, the passing test and the unmarked skip are untouched
    assert "1 failed, 1 passed, 1 skipped, 1 xfailed, 2 errors" in summary, out
    assert out.count("gpu_emulated must run where NNACCEL_REQUIRE_GPU_EMULATED=1") >= 3, out
    assert "no_such_module_nnaccel" in out and "no NVRTC" in out and "no g++" in out, out


@pytest.mark.gpu_emulated
@pytest.mark.slow
def test_without_the_requirement_they_skip(tmp_path):
    summary, out = _pytest(tmp_path, required=False)
    assert "1 passed, 4 skipped, 1 xfailed" in summary, out

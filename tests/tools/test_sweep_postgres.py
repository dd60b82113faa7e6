"""nnaccel sweep on a real PostgreSQL server: two workers on one study, one killed with SIGKILL.

The server is started for the test session from Debian's ``postgresql`` package (initdb and
pg_ctl, a temporary folder, 127.0.0.1 on a free port). Without the package the tests skip,
except where NNACCEL_REQUIRE_POSTGRES=1 (CI), where a missing server is a failure.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

from tests.postgres_server import PostgresServer, binaries

optuna = pytest.importorskip("optuna", reason="nnaccel sweep needs the optional extra nnaccel[sweep]")
REQUIRED = os.environ.get("NNACCEL_REQUIRE_POSTGRES") == "1"


@pytest.fixture(scope="session")
def postgres_url():
    missing = None
    if binaries() is None:
        missing = "PostgreSQL is not installed (apt-get install postgresql)"
    else:
        if importlib.util.find_spec("psycopg") is None:  # SQLAlchemy's driver for postgresql:// URLs
            missing = "psycopg is not installed (pip install 'psycopg[binary]')"
    if missing:
        if REQUIRED:
            pytest.fail(f"NNACCEL_REQUIRE_POSTGRES=1 but {missing}")
        pytest.skip(missing)
    with PostgresServer() as url:
        yield url


@pytest.mark.slow
def test_two_workers_on_postgresql_share_the_budget_and_survive_kill_9(postgres_url):
    from tests.tools.test_sweep import two_workers_one_killed

    two_workers_one_killed(postgres_url, name="kill9")


@pytest.mark.slow
def test_a_study_on_postgresql_refuses_another_search_space(postgres_url):
    from tests.tools.test_sweep import TINY, nnaccel, one_line_error

    first = nnaccel("sweep", "--storage", postgres_url, "--study", "space", "--trials", "1",
                    "--hidden", "5", *TINY)
    assert first.returncode == 0, first.stderr
    one_line_error(nnaccel("sweep", "--storage", postgres_url, "--study", "space", "--trials", "1",
                           *TINY, "--hidden", "6"), "another search space", "hidden 5 there, 6 here")


def test_an_unreachable_server_is_one_line(postgres_url):
    from nnaccel.errors import NNAccelError
    from nnaccel.tools._studies import open_storage

    port = postgres_url.rsplit(":", 1)[1].split("/")[0]
    wrong = postgres_url.replace(f":{port}/", ":1/")
    with pytest.raises(NNAccelError, match="cannot open --storage") as error:
        open_storage(optuna, wrong)
    assert "\n" not in str(error.value)


def test_the_server_is_real(postgres_url):
    import sqlalchemy

    with sqlalchemy.create_engine(postgres_url).connect() as connection:
        assert "PostgreSQL" in connection.execute(sqlalchemy.text("select version()")).scalar()
    assert subprocess.run([sys.executable, "-c", "import psycopg"]).returncode == 0

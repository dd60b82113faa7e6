"""A throwaway PostgreSQL server for the tests: Debian's initdb and pg_ctl, a temporary data
folder, 127.0.0.1 on a free port, trust authentication, gone when the test session ends.

PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` user that
Debian's package creates.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

USER = "nnaccel"


def binaries():
    """The bin folder of the newest installed PostgreSQL, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return Path(found[-1]).parent if found else None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """``with PostgresServer() as url:`` a running server and the SQLAlchemy URL of its database."""

    def __init__(self, bin_dir=None):
        self.bin = Path(bin_dir or binaries())
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="nnaccel-pg-"))
        self.data = self.folder / "data"
        self.as_user = []
        if os.geteuid() == 0:  # postgres will not run as root: run it as Debian's postgres user
            account = pwd.getpwnam("postgres")
            os.chown(self.folder, account.pw_uid, account.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args):
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, text=True, timeout=120)

    def start(self):
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", USER, "-A", "trust",
                  "--no-sync", "-E", "UTF8")
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options,
                  "-l", str(self.folder / "log"), "-w", "start")
        return f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"

    def stop(self):
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def log(self):
        path = self.folder / "log"
        return path.read_text() if path.exists() else ""

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()

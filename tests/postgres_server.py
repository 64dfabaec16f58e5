"""A throwaway PostgreSQL server for the tests of the gradebook on PostgreSQL.

It runs Debian's ``postgresql`` binaries (``initdb``, ``pg_ctl``) on a cluster in
a temporary folder, listening only on a Unix socket in that folder, with trust
authentication, and is removed at the end of the test session. The server
refuses to run as root, so when the tests run as root the cluster belongs to
an unprivileged user (``postgres``, which the Debian package creates, else
``nobody``) and the server runs as that user.

Without the binaries the tests that need the server are skipped, unless
``NNBOOK_REQUIRE_POSTGRES=1`` (which ``.ci/run`` sets): then they fail.
"""

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

SUPERUSER = "nnbook"


def postgres_binaries():
    """The folder of the newest installed PostgreSQL's ``initdb`` and ``pg_ctl``, or ``None``."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda path: int(path.parts[-3]))
    return found[-1].parent if found else None


def require_postgres():
    """The binaries' folder, or a skip (a failure with ``NNBOOK_REQUIRE_POSTGRES=1``)."""
    folder = postgres_binaries()
    if folder is None:
        message = "PostgreSQL is not installed (apt-get install postgresql)"
        if os.environ.get("NNBOOK_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"NNBOOK_REQUIRE_POSTGRES=1 but {message}")
        pytest.skip(message)
    return folder


def _server_user():
    """``(uid, gid)`` the server runs as: ourselves, or an unprivileged account when we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            account = pwd.getpwnam(name)
        except KeyError:
            continue
        return account.pw_uid, account.pw_gid
    pytest.fail("running as root and no unprivileged account (postgres, nobody) to run PostgreSQL as")


class PostgresServer:
    """A running throwaway cluster: ``url(database)`` is a SQLAlchemy URL, ``create_database()`` makes a fresh one."""

    def __init__(self, binaries):
        self.binaries = binaries
        self.folder = Path(tempfile.mkdtemp(prefix="nnbook-postgres-"))
        self.data, self.socket, self.log = self.folder / "data", self.folder / "socket", self.folder / "server.log"
        self.socket.mkdir()
        self.user = _server_user()
        if self.user:
            for path in (self.folder, self.socket):
                os.chown(path, *self.user)
        self.port = 5432 + uuid.uuid4().int % 20000  # only names the socket file: no TCP port is opened

    def _run(self, *command):
        kwargs = {"user": self.user[0], "group": self.user[1], "extra_groups": []} if self.user else {}
        result = subprocess.run([str(self.binaries / command[0]), *command[1:]], capture_output=True, text=True,
                                timeout=120, cwd=self.folder, env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"},
                                **kwargs)
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{command[0]} failed:\n{result.stdout}\n{result.stderr}\n{log}")
        return result

    def start(self):
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-k {self.socket} -p {self.port} -c listen_addresses='' -c fsync=off -c max_connections=60"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")
        return self

    def stop(self):
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database="postgres"):
        return f"postgresql+psycopg://{SUPERUSER}@/{database}?host={self.socket}&port={self.port}"

    def connect(self, database="postgres"):
        import psycopg

        return psycopg.connect(host=str(self.socket), port=self.port, user=SUPERUSER, dbname=database,
                               autocommit=True)

    def create_database(self, prefix="gradebook"):
        """A new empty database; returns its SQLAlchemy URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with self.connect() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

"""A throwaway PostgreSQL cluster for one test session.

``throwaway_cluster()`` runs ``initdb`` into a new temporary folder and starts the server there as
a child process: on 127.0.0.1 and a free port, its socket in the same folder, ``trust``
authentication in that cluster's own ``pg_hba.conf``, durability off. On exit the server is
stopped and the folder removed; the server also gets SIGTERM if the test process dies without
cleaning up. Nothing outside the folder is written. PostgreSQL refuses to run as root, so under
root the cluster belongs to the ``postgres`` system user (else ``nobody``).
"""

from __future__ import annotations

import ctypes
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

BIN_PATTERNS = ("/usr/lib/postgresql/*/bin",)
NEEDED = ("initdb", "postgres")
SUPERUSER = "postgres"

__all__ = ["ClusterError", "find_bin_dir", "throwaway_cluster"]


class ClusterError(RuntimeError):
    """The throwaway cluster could not be created or started."""


def find_bin_dir(patterns: Sequence[str] = BIN_PATTERNS, path: str | None = None) -> Path | None:
    """The newest folder matching ``patterns`` with ``initdb`` and ``postgres`` in it, else the
    folder of ``initdb`` on PATH if ``postgres`` is beside it, else None."""

    def version(folder: str) -> tuple[int, ...]:
        digits = Path(folder).parent.name.split(".")
        return tuple(int(d) for d in digits if d.isdigit())

    for pattern in patterns:
        for folder in sorted(glob.glob(pattern), key=version, reverse=True):
            if all((Path(folder) / name).is_file() for name in NEEDED):
                return Path(folder)
    initdb = shutil.which("initdb", path=path)
    if initdb is not None:
        folder = Path(initdb).resolve().parent
        if (folder / "postgres").is_file():
            return folder
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _owner() -> pwd.struct_passwd | None:
    """The unprivileged account to run the cluster as when running as root, else None."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise ClusterError("running as root and there is no 'postgres' or 'nobody' account")


def _die_with_parent() -> None:
    # PR_SET_PDEATHSIG: the server gets SIGTERM (a smart shutdown) when this process dies
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


@contextmanager
def throwaway_cluster(bin_dir: Path, *, start_timeout: float = 60.0) -> Iterator[str]:
    """Run a fresh cluster for the duration of the block; yields the superuser's URL."""
    owner = _owner()
    folder = Path(tempfile.mkdtemp(prefix="ctmirror-pg-"))
    uid = gid = None
    groups: list[int] | None = None
    if owner is not None:
        uid, gid, groups = owner.pw_uid, owner.pw_gid, []
        os.chown(folder, uid, gid)
    server: subprocess.Popen[bytes] | None = None
    log = folder / "server.log"
    try:
        data = folder / "data"
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"}
        init = subprocess.run(
            [str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust",
             "--encoding=UTF8", "--locale=C", "--no-sync"],
            cwd=folder, env=env, capture_output=True, text=True,
            user=uid, group=gid, extra_groups=groups,
        )
        if init.returncode != 0:
            raise ClusterError(f"initdb failed ({init.returncode}):\n{init.stdout}{init.stderr}")
        port = _free_port()
        with open(log, "wb") as log_file:
            server = subprocess.Popen(
                [str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(folder),
                 "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                 "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
                cwd=folder, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_die_with_parent,
                user=uid, group=gid, extra_groups=groups,
            )
        _wait_ready(server, port, log, start_timeout)
        yield f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{port}/postgres"
    finally:
        if server is not None:
            _stop(server)
        shutil.rmtree(folder, ignore_errors=True)


def _wait_ready(server: subprocess.Popen[bytes], port: int, log: Path, timeout: float) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        if server.poll() is not None:
            raise ClusterError(f"the server exited ({server.returncode}):\n{log.read_text()}")
        try:
            with psycopg.connect(host="127.0.0.1", port=port, user=SUPERUSER, dbname="postgres",
                                 connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"the server did not accept connections within {timeout:.0f} s:\n"
                    f"{log.read_text()}") from None
            time.sleep(0.1)


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGINT)  # fast shutdown: end sessions, no waiting on clients
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.send_signal(signal.SIGQUIT)  # immediate shutdown
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

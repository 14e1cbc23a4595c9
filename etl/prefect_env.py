"""Quiet, offline-friendly Prefect defaults, applied before Prefect is first imported.

Prefect reads its settings from the environment at import time. Every value set here is a default:
anything the user exported already wins.
"""

from __future__ import annotations

import os
from pathlib import Path

_QUIET = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",  # else "Failed to send telemetry" offline
    "DO_NOT_TRACK": "1",
    # The terminal shows warnings only; the run logs on the Prefect server keep every INFO line
    # (PREFECT_LOGGING_LEVEL stays Prefect's INFO, else nothing reaches the server).
    "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "WARNING",
    "PREFECT_SERVER_LOGGING_LEVEL": "ERROR",
    # ctmirror's logs from threads outside a task (the crawl's request pool) stay local
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
    # the temporary server needs 7-20 s to start on a 2-core machine; Prefect's default is 20 s
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}


def configure_prefect(root: Path | None = None, *, verbose: bool = False) -> None:
    """Set quiet defaults; without a Prefect server configured, keep Prefect's state under root.

    Separate processes that share one temporary-server SQLite file lock each other out, so each
    mirror root gets its own ``PREFECT_HOME`` unless the user chose one or points at a server.
    That folder holds Prefect's database (every flow run's parameters and logs): only its owner
    may open it.
    """
    for key, value in _QUIET.items():
        if verbose and "LOGGING" in key and "LEVEL" in key:
            continue
        os.environ.setdefault(key, value)
    if root is not None and "PREFECT_API_URL" not in os.environ:
        home = Path(root).resolve() / ".prefect"
        home.mkdir(parents=True, exist_ok=True)
        home.chmod(0o700)
        os.environ.setdefault("PREFECT_HOME", str(home))

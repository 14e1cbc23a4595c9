"""Running a server from the command line: tokens, logging, the reload poll, signals."""

from __future__ import annotations

import ipaddress
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from ctmirror.errors import ConfigError
from ctmirror.serve.server import ApiServer, Limits, Pages, RecordSource, Reloader


def read_tokens(tokens: Sequence[str], tokens_file: Path | None) -> frozenset[str]:
    """The accepted bearer tokens: those given, and one per line of ``tokens_file`` (blank
    lines and ``#`` comments skipped)."""
    found = {t.strip() for t in tokens if t.strip()}
    if tokens_file is not None:
        try:
            lines = tokens_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"cannot read the tokens file {tokens_file}: {exc.strerror}"
                              ) from None
        found.update(line.strip() for line in lines
                     if line.strip() and not line.lstrip().startswith("#"))
        if not found:
            raise ConfigError(f"the tokens file {tokens_file} holds no token")
    return frozenset(found)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(source: RecordSource, host: str, port: int, *, limits: Limits,
         tokens: frozenset[str], pages: Pages | None = None) -> ApiServer:
    try:
        return ApiServer(source, (host, port), limits=limits, tokens=tokens, pages=pages)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror}); "
                          "pick another --port") from None


def serve_until_stopped(server: ApiServer, *, poll_s: float | None, access_log: bool,
                        echo: Callable[[str], None]) -> None:
    """Serve until Ctrl-C or SIGTERM, reloading the source every ``poll_s`` seconds."""
    logging.getLogger("ctmirror.serve").setLevel(logging.INFO)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access = logging.getLogger("ctmirror.serve.access")
    access.propagate = False
    if access_log:
        access.addHandler(handler)
        access.setLevel(logging.INFO)
    else:
        access.setLevel(logging.WARNING)
    host = server.server_address[0]
    where = "" if is_loopback(str(host)) else " (reachable from other machines)"
    echo(f"serving {server.source.description}, state {server.catalog.version}, "
         f"on {server.base_url}{where}")
    if server.pages is not None:
        echo(f"web pages: {server.base_url}/")
    if server.tokens:
        echo(f"{len(server.tokens)} bearer token(s) accepted; other requests get 401")
    elif where:
        echo("no --token: anyone who reaches this address can read the mirror")
    reloader = Reloader(server, poll_s) if poll_s else None
    if reloader is not None:
        reloader.start()
    stop_on_signals()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        echo("stopped")
    finally:
        if reloader is not None:
            reloader.stop()
        server.server_close()


def stop_on_signals() -> None:
    """Stop on Ctrl-C and on SIGTERM, also when the parent started this process with SIGINT
    ignored (as shells do for background jobs, and the ignore survives exec)."""
    if threading.current_thread() is not threading.main_thread():
        return

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


__all__ = ["bind", "is_loopback", "read_tokens", "serve_until_stopped", "stop_on_signals"]

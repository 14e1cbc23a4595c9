"""`ctmirror replica` commands."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)


@app.command()
def serve(
    snapshot: Annotated[Path, typer.Option("--snapshot", help="Snapshot directory to serve")],
    host: Annotated[str, typer.Option("--host", help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port (0: any free)")
                    ] = 8500,
    fault: Annotated[
        list[str] | None,
        typer.Option("--fault", help="Inject a fault, e.g. status=503:0.2, drop=files:0.1, "
                                     "latency=0.05, first=3 (repeatable; see "
                                     "etl/replica/faults.py for the syntax)"),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every request")] = False,
) -> None:
    """Serve a snapshot with the Allen RMA API's URLs until Ctrl-C."""
    from ctmirror.errors import ConfigError
    from ctmirror.replica.faults import FaultConfig
    from ctmirror.replica.server import make_server
    from ctmirror.serve.cli import stop_on_signals

    # force: the top-level command has configured logging for one-line errors already, and a
    # second basicConfig would otherwise change nothing (no request was ever logged).
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(message)s", force=True)
    faults = FaultConfig.parse(fault or [])
    try:
        server = make_server(snapshot, host=host, port=port, faults=faults)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror}); "
                          "pick another --port") from None
    typer.echo(f"replica of the Allen API serving {server.root} on {server.base_url}")
    if faults.faults or faults.latency_s or faults.throttle_bytes_per_s:
        typer.echo(f"faults: {faults}")
    stop_on_signals()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        typer.echo("stopped")
    finally:
        server.server_close()
        if faults.faults:
            fired = server.injector.injected
            typer.echo("faults injected: " + (", ".join(f"{kind} x{n}" for kind, n in
                                                         sorted(fired.items())) or "none"))

"""ctmirror: the command line."""

from __future__ import annotations

import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ctmirror.commands.biophys import app as biophys_app
from ctmirror.commands.features import app as features_app
from ctmirror.commands.glif import app as glif_app
from ctmirror.defaults import DEFAULT_API_BASE
from ctmirror.errors import ConfigError, CtMirrorError
from ctmirror.query_output import DEFAULT_MAX_ROWS, OutputFormat, write_rows
from ctmirror.replica.cli import app as replica_app
from ctmirror.replica.corpus.cli import app as corpus_app
from ctmirror.warehouse.cli import app as db_app

if TYPE_CHECKING:
    from ctmirror.settings import Settings

# plain help (no rich panels): flags without a `<bool>` placeholder, defaults in brackets
app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    help="A verified offline mirror of the Allen Cell Types Database, in a SQL warehouse.",
)
app.add_typer(replica_app, name="replica", help="Serve a snapshot with the Allen RMA API.")
app.add_typer(corpus_app, name="corpus", help="Build replica snapshots (real and synthetic).")
app.add_typer(db_app, name="db", help="Warehouse schema migrations.")
app.add_typer(features_app, name="features", help="Recompute published features from local files.")
app.add_typer(glif_app, name="glif", help="Run GLIF models and score them (EVR).")
app.add_typer(biophys_app, name="biophys",
              help="Run biophysical models with NEURON (the neuron extra).")
schedule_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)
app.add_typer(schedule_app, name="schedule", help="Run the sync flow on a schedule (Prefect).")
export_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)
app.add_typer(export_app, name="export", help="Write the mirror in other tools' layouts.")

RootOpt = Annotated[str | None, typer.Option(
    "--root", help="Mirror root: a folder, or s3://bucket/prefix [default: ./data]")]
DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="Warehouse URL [default: duckdb:///<root>/warehouse.duckdb]"),
]


def _settings(root: str | None = None, db: str | None = None, api_base: str | None = None,
              **given: Any) -> Settings:
    """Settings from the environment and defaults, with the flags that were given on top."""
    from ctmirror.settings import Settings

    given |= {"root": root, "warehouse": {"url": db}, "api": {"base_url": api_base}}
    return Settings(**_without_none(given))


def _given(root: str | None, db: str | None) -> str:
    """The ``--root``/``--db`` options the user gave, to repeat in a suggested command."""
    import shlex

    if db is not None and "@" in db:
        from sqlalchemy.engine import make_url

        db = make_url(db).render_as_string(hide_password=True)  # never echo a password
    return "".join(f" {flag} {shlex.quote(str(value))}"
                   for flag, value in (("--root", root), ("--db", db)) if value is not None)


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in values.items():
        if isinstance(value, dict):
            value = _without_none(value)
        if value is not None and value != {}:
            out[key] = value
    return out


@app.command()
def sync(
    api_base: Annotated[
        str | None, typer.Option("--api-base", help=f"RMA API root [default: {DEFAULT_API_BASE}]")
    ] = None,
    root: RootOpt = None,
    db: DbOpt = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Mirror only the first N cells")
    ] = None,
    files: Annotated[
        str | None,
        typer.Option("--files", help="Files to mirror: all, none, or a comma list of "
                                     "recordings, reconstructions, models, thumbnails, images, "
                                     "sub-images, uncompressed, other [default: all = every "
                                     "category but sub-images and uncompressed]"),
    ] = None,
    images: Annotated[
        ImageChoice | None,
        typer.Option("--images", help="Section images: none, projections (the default "
                                      "with --files all), or full (adds the 63x sub-image "
                                      "stacks: hundreds per cell)"),
    ] = None,
    image_downsample: Annotated[
        int | None, typer.Option("--image-downsample", min=0, max=8,
                                 help="Halve section images this many times [default: 0]"),
    ] = None,
    convert: Annotated[
        bool | None, typer.Option(help="Convert recordings, reconstructions and model "
                                       "parameters [default: yes]")
    ] = None,
    features: Annotated[
        bool | None, typer.Option(help="Recompute ephys and morphology features of new or "
                                       "changed recordings and reconstructions [default: yes]")
    ] = None,
    definitions: Annotated[
        str | None, typer.Option("--definitions", help="Ephys feature definitions: allen2016 "
                                                       "(the published table's) or ipfx "
                                                       "[default: allen2016]")
    ] = None,
    glif: Annotated[
        bool | None, typer.Option(help="Simulate GLIF models of new or changed configs or "
                                       "recordings and recompute their explained variance "
                                       "ratio [default: yes]")
    ] = None,
    glif_voltages: Annotated[
        bool, typer.Option("--glif-voltages", help="Also write the GLIF models' simulated "
                                                   "voltage traces (dataset glif_voltages)")
    ] = False,
    dask: Annotated[
        str | None,
        typer.Option("--dask", help="Compute the derived stages on a Dask cluster: a scheduler "
                                    "address (tcp://host:8786) or local:N (a local cluster of N "
                                    "worker processes) [default: worker processes here]"),
    ] = None,
    biophys: Annotated[
        bool | None, typer.Option(help="Simulate biophysical models of new or changed inputs "
                                       "with NEURON and recompute their feature average "
                                       "(needs the neuron extra) [default: yes]")
    ] = None,
    prefect: Annotated[
        bool,
        typer.Option(help="Run as a Prefect flow (temporary local server unless PREFECT_API_URL "
                          "is set); --no-prefect runs the same stages in-process"),
    ] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's logs")] = False,
) -> None:
    """Mirror every cell, linked record and file into the warehouse (idempotent, resumable)."""
    from ctmirror.sync import locked_and_checked, run_sync_locally
    from ctmirror.sync_report import print_sync_result

    if definitions is not None:
        from ctmirror.features.ephys import definitions as definition_set

        definitions = definition_set(definitions).name
    settings = _settings(root, db, api_base, limit=limit,
                         files={"categories": files, "image_downsample": image_downsample,
                                "convert": convert},
                         features={"ephys": features, "morphology": features, "glif": glif,
                                   "biophys": biophys, "glif_voltages": glif_voltages or None,
                                   "ephys_definitions": definitions, "dask": dask})
    if images is not None:
        settings.files.categories = _file_categories(settings.files.categories, images)
    config = settings.sync_config()
    if verbose:
        for handler in logging.getLogger().handlers:
            handler.removeFilter(_not_prefect)
    # the lock first, so that a second sync of this mirror is told so in one line before it
    # touches the warehouse; then the checks, whose errors are one line too (not tracebacks
    # from inside a flow run), and which remove a root they created when they fail; the lock
    # is held through the run, which takes it again
    with locked_and_checked(config):
        if prefect:
            from ctmirror.prefect_env import configure_prefect

            configure_prefect(config.root, verbose=verbose)
            from ctmirror.flows.sync import run_sync_flow

            result = run_sync_flow(config, show_progress=True)
        else:
            result = run_sync_locally(config, progress=True)
    print_sync_result(result)
    if result.errors or result.load.quarantined:
        raise typer.Exit(code=2)


class ImageChoice(StrEnum):
    none = "none"
    projections = "projections"
    full = "full"


def _file_categories(files: str, images: ImageChoice) -> str:
    """The ``--files`` list with ``--images`` applied."""
    from ctmirror.mirror.plan import FileCategory, parse_categories

    chosen = set(parse_categories(files))
    if images is ImageChoice.none:
        chosen -= {FileCategory.IMAGES, FileCategory.SUB_IMAGES}
    elif images is ImageChoice.projections:
        chosen.add(FileCategory.IMAGES)
    elif images is ImageChoice.full:
        chosen |= {FileCategory.IMAGES, FileCategory.SUB_IMAGES}
    return ",".join(sorted(chosen)) or "none"


@app.command()
def verify(
    root: RootOpt = None,
    db: DbOpt = None,
    content: Annotated[
        bool, typer.Option("--content", help="Also re-run the content checks of a download "
                                             "(HDF5 opens, SWC and JSON parse, zip members "
                                             "are safe, image dimensions)")
    ] = False,
    fix: Annotated[
        bool, typer.Option("--fix", help="Delete files that differ, so the next sync "
                                         "downloads them again")
    ] = False,
) -> None:
    """Check every mirrored file against the warehouse: present, with its recorded size and
    sha256 (re-hashed); with --content also its content checks. Exit 1 on any difference."""
    from ctmirror.mirror.audit import audit_mirror, print_audit
    from ctmirror.warehouse.engine import create_warehouse_engine

    settings = _settings(root, db)
    engine = create_warehouse_engine(settings.warehouse_url(), read_only=not fix,
                                     mirror_root=settings.local_root)
    try:
        audit = audit_mirror(engine, settings.local_root, content=content, fix=fix,
                             store=settings.object_store())
    finally:
        engine.dispose()
    print_audit(audit, options=_given(root, db))
    if audit.problems:
        raise typer.Exit(code=1)


FormatOpt = Annotated[OutputFormat, typer.Option(
    "--format", "-f", help="table: for reading (fits the terminal, arrays summarised, at most "
                           "--max-rows rows); csv, json (one array of objects) or jsonl (one "
                           "object a line): every row and value")]
MaxRowsOpt = Annotated[int, typer.Option("--max-rows", min=1,
                                         help="Rows the table shows; the rest are counted")]


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="One query (SELECT) to run on the warehouse",
                                         metavar="QUERY")],
    root: RootOpt = None,
    db: DbOpt = None,
    fmt: FormatOpt = OutputFormat.table,
    max_rows: MaxRowsOpt = DEFAULT_MAX_ROWS,
) -> None:
    """Run one read-only query on the warehouse (on DuckDB its published copy, the state after
    the last successful sync) and print the result."""
    from ctmirror.warehouse.published import reader_url
    from ctmirror.warehouse.user_sql import run_readonly

    settings = _settings(root, db)
    result = run_readonly(reader_url(settings.warehouse_url()), query,
                          parquet_root=settings.local_root,
                          max_rows=max_rows if fmt is OutputFormat.table else None)
    write_rows(result.columns, result.rows, fmt, types=result.types, max_rows=max_rows,
               more_rows=result.more_rows)


@app.command()
def status(
    root: RootOpt = None,
    db: DbOpt = None,
    runs: Annotated[int, typer.Option("--runs", "-n", min=1, help="How many runs to show")] = 5,
) -> None:
    """Show the last sync runs, row counts per table, and recent errors.

    On DuckDB the working file is read, a running sync included; while a sync holds it, the
    published copy (the state after the last successful sync) is read instead."""
    from ctmirror.sync_report import print_status
    from ctmirror.warehouse.engine import create_warehouse_engine
    from ctmirror.warehouse.published import reader_url

    settings = _settings(root, db)
    url = settings.warehouse_url()
    try:
        engine = create_warehouse_engine(url, read_only=True, mirror_root=settings.local_root)
    except ConfigError as exc:
        if reader_url(url) == url:
            raise
        typer.secho(f"{exc}\nshowing the published copy: the state after the last successful "
                    "sync", fg="yellow", err=True)
        engine = create_warehouse_engine(reader_url(url), read_only=True,
                                         mirror_root=settings.local_root)
    try:
        print_status(engine, runs=runs)
    finally:
        engine.dispose()


@export_app.command("allensdk-cache")
def export_allensdk_cache(
    out: Annotated[Path, typer.Argument(help="Folder to write (empty, or an earlier export)")],
    cells: Annotated[list[int] | None, typer.Option(
        "--cells", help="Only this specimen id (repeatable) [default: every cell]")] = None,
    copy: Annotated[bool, typer.Option(
        "--copy", help="Copy the NWB and SWC files instead of hard-linking them")] = False,
    root: RootOpt = None,
    db: DbOpt = None,
) -> None:
    """Write the mirror as an AllenSDK CellTypesCache folder: unmodified
    CellTypesCache(manifest_file=OUT/manifest.json) then works with no network."""
    from ctmirror.api.allensdk_cache import export_allensdk_cache as export

    settings = _settings(root, db)
    summary = export(settings.warehouse_url(), settings.local_root, out, cells=cells or None,
                     copy=copy)
    typer.echo(f"{summary.cells} cells, {summary.recordings} recordings, "
               f"{summary.reconstructions} reconstructions, {summary.markers} marker files "
               f"({summary.linked} hard-linked, {summary.copied} copied) in {out}")


@app.command()
def serve(
    root: RootOpt = None,
    db: DbOpt = None,
    host: Annotated[str, typer.Option("--host", help="Address to bind; anything but loopback "
                                                     "is reachable from other machines")
                    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port (0: any free)")
                    ] = 8080,
    token: Annotated[list[str] | None, typer.Option(
        "--token", help="Accept this bearer token and refuse requests without one (401); "
                        "repeatable. Prefer --tokens-file: a command line is visible to "
                        "other users")] = None,
    tokens_file: Annotated[Path | None, typer.Option(
        "--tokens-file", help="File of accepted bearer tokens, one per line")] = None,
    max_rows: Annotated[int, typer.Option("--max-rows", min=1,
                                          help="Most objects one page may hold")] = 50_000,
    max_active: Annotated[int, typer.Option(
        "--max-active", min=1, help="Requests answered at once; more wait, then get 429")] = 64,
    poll: Annotated[float, typer.Option("--poll", min=0.0,
                                        help="Seconds between checks for a newer sync (0: never)")
                    ] = 5.0,
    access_log: Annotated[bool, typer.Option(help="Log each request (Combined Log Format) "
                                                  "to stdout")] = True,
) -> None:
    """Answer the Allen RMA API and its file downloads from the synced mirror (read-only), and
    the web pages at / (cell search, cell pages, overview)."""
    from ctmirror.serve.cli import bind, read_tokens, serve_until_stopped
    from ctmirror.serve.server import Limits
    from ctmirror.serve.warehouse_source import WarehouseSource

    settings = _settings(root, db)
    from ctmirror.serve.web import web_pages

    source = WarehouseSource(settings.warehouse_url(), settings.local_root)
    server = bind(source, host, port, limits=Limits(max_rows=max_rows, max_active=max_active),
                  tokens=read_tokens(token or [], tokens_file),
                  pages=web_pages(settings.warehouse_url(), settings.local_root))
    serve_until_stopped(server, poll_s=poll or None, access_log=access_log, echo=typer.echo)


@app.command()
def describe(
    table: Annotated[str | None, typer.Argument(help="A table or view: list its columns",
                                                metavar="TABLE")] = None,
    root: RootOpt = None,
    db: DbOpt = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """List the warehouse's tables and views with their descriptions, or one table's columns
    with type and description."""
    from ctmirror.warehouse.descriptions import described_columns, described_objects
    from ctmirror.warehouse.engine import create_warehouse_engine

    settings = _settings(root, db)
    engine = create_warehouse_engine(settings.warehouse_url(), read_only=True)
    try:
        with engine.connect() as conn:
            if table is None:
                objects = described_objects(conn)
                write_rows(["name", "kind", "description"],
                           [(o.name, o.kind.lower(), o.description or "") for o in objects], fmt,
                           max_rows=len(objects), wrap_last=True)
                return
            columns = described_columns(conn, table)
    finally:
        engine.dispose()
    if not columns:
        raise ConfigError(f"no table or view {table!r} in the warehouse: `ctmirror describe` "
                          "lists them")
    write_rows(["column", "type", "description"],
               [(c.name, c.type, c.description or "") for c in columns], fmt,
               max_rows=len(columns), wrap_last=True)


@schedule_app.command("serve")
def schedule_serve(
    cron: Annotated[str | None, typer.Option("--cron", help="Cron expression, e.g. '0 3 * * 0'")
                    ] = None,
    interval: Annotated[float | None, typer.Option(
        "--interval", min=1, help="Seconds between runs, instead of --cron")] = None,
    name: Annotated[str, typer.Option("--name", help="Deployment name")] = "ctmirror-sync",
    api_base: Annotated[str | None, typer.Option(
        "--api-base", help=f"RMA API root [default: {DEFAULT_API_BASE}]")] = None,
    root: RootOpt = None,
    db: DbOpt = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1,
                                              help="Mirror only the first N cells")] = None,
) -> None:
    """Serve the sync flow on a schedule against a Prefect server (PREFECT_API_URL); one run at
    a time (a run due while another runs waits)."""
    import os

    if not os.environ.get("PREFECT_API_URL"):
        raise ConfigError(
            "schedules need a Prefect server: set PREFECT_API_URL (docker-compose.yml starts one)"
        )
    if (cron is None) == (interval is None):
        raise ConfigError("give one schedule: --cron EXPRESSION or --interval SECONDS")
    config = _settings(root, db, api_base, limit=limit).sync_config()
    from ctmirror.prefect_env import configure_prefect

    configure_prefect()
    if cron is not None:
        _check_cron(cron)
    from ctmirror.flows.sync import serve_on_schedule

    serve_on_schedule(config, name=name, cron=cron, interval=interval)


def _check_cron(cron: str) -> None:
    """Prefect's own cron parsing, so what is accepted here is what the server schedules."""
    from prefect.client.schemas.schedules import CronSchedule
    from pydantic import ValidationError

    try:
        CronSchedule(cron=cron)
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise ConfigError(f"invalid --cron {cron!r}: {reason}") from None


@app.command()
def demo(
    root: Annotated[Path, typer.Option("--root", help="Where the demo writes")] = Path("demo"),
    cells: Annotated[int, typer.Option("--cells", min=4, help="Synthetic cells")] = 60,
    prefect: Annotated[bool, typer.Option(help="Run the sync as a Prefect flow")] = True,
) -> None:
    """Offline demo: build a synthetic replica, serve it on loopback, sync it, query it."""
    from ctmirror.demo import run_demo

    run_demo(root, cells=cells, use_prefect=prefect)


def _not_prefect(record: logging.LogRecord) -> bool:
    """Prefect's lines stay in its run log (``sync -v`` shows them): a failed flow reaches the
    terminal as the one-line error, not as Prefect's tracebacks of it."""
    return not record.name.startswith("prefect")


def main() -> None:
    import os

    # nothing the tool writes is world-readable (Prefect's database keeps flow-run parameters and
    # logs, and sits in its own 0700 folder); the group keeps read access so that a lab can share
    # one mirror among its members
    os.umask(os.umask(0o027) | 0o027)

    # errors reach the user as exceptions rendered in one line; the log says only what is odd
    # (at the handler too: a Prefect flow run raises ctmirror's loggers to INFO for its run log)
    console = logging.StreamHandler()
    console.setLevel(logging.WARNING)
    console.addFilter(_not_prefect)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s",
                        handlers=[console])
    try:
        app()  # standalone: usage errors print themselves and exit 2
    except CtMirrorError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(1)
    except OSError as exc:
        # A full disk, a read-only or vanished folder: the run is already closed out.
        where = f" ({exc.filename})" if exc.filename else ""
        typer.secho(f"error: {exc.strerror or exc}{where}", fg="red", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        typer.secho("aborted", fg="red", err=True)
        sys.exit(130)

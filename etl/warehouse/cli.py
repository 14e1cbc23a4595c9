"""`ctmirror db` commands: warehouse schema migrations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from ctmirror.settings import Settings

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)

DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="Warehouse URL [default: duckdb:///<root>/warehouse.duckdb]"),
]
RootOpt = Annotated[str | None, typer.Option(
    "--root", help="Mirror root: a folder, or s3://bucket/prefix [default: ./data]")]


def _settings(db: str | None, root: str | None) -> Settings:
    from ctmirror.settings import Settings

    settings = Settings()
    if root is not None:
        settings.root = root
    if db is not None:
        settings.warehouse.url = db
    return settings


@app.command()
def upgrade(
    db: DbOpt = None,
    root: RootOpt = None,
    revision: Annotated[str, typer.Option("--revision", help="Target revision")] = "head",
) -> None:
    """Migrate the warehouse up to a revision (creates it if it does not exist)."""
    from ctmirror.warehouse import migrate

    settings = _settings(db, root)
    url = settings.warehouse_url()
    migrate.upgrade(url, revision, mirror_root=settings.local_root)
    typer.echo(f"warehouse at {migrate.current(url)}")


@app.command()
def downgrade(
    revision: Annotated[str, typer.Option("--revision", help="Target revision ('base' drops "
                                                             "every table)")],
    db: DbOpt = None,
    root: RootOpt = None,
) -> None:
    """Migrate the warehouse down to a revision."""
    from ctmirror.warehouse import migrate

    settings = _settings(db, root)
    url = settings.warehouse_url()
    migrate.downgrade(url, revision, mirror_root=settings.local_root)
    typer.echo(f"warehouse at {migrate.current(url) or 'base'}")


@app.command()
def current(db: DbOpt = None, root: RootOpt = None) -> None:
    """Show the warehouse's revision and the one this ctmirror expects."""
    from ctmirror.warehouse import migrate
    from ctmirror.warehouse.engine import warehouse_options

    url = _settings(db, root).warehouse_url()
    at = migrate.current(url)
    head = migrate.head_revision()
    state = "at head" if at == head else f"run `ctmirror db upgrade{warehouse_options(url)}`"
    typer.echo(f"{at or 'base'} (code expects {head}: {state})")


@app.command("grant-reader")
def grant_reader_command(
    role: Annotated[str, typer.Argument(help="An existing PostgreSQL role", metavar="ROLE")],
    db: DbOpt = None,
    root: RootOpt = None,
) -> None:
    """Grant a role read-only access to a PostgreSQL warehouse: its schema, every table and
    view, and those created later."""
    from ctmirror.warehouse.engine import create_warehouse_engine
    from ctmirror.warehouse.grants import grant_reader

    engine = create_warehouse_engine(_settings(db, root).warehouse_url())
    try:
        schema = grant_reader(engine, role)
    finally:
        engine.dispose()
    typer.echo(f"{role} may read schema {schema}: every table and view, now and later")

"""ctmirror: the command line."""

from __future__ import annotations

import sys

import typer

from etl.corpus.cli import app as corpus_app
from etl.errors import CtMirrorError
from etl.replica.cli import app as replica_app
from etl.warehouse.cli import app as db_app

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="A verified offline mirror of the Allen Cell Types Database, in a SQL warehouse.",
)
app.add_typer(replica_app, name="replica", help="Serve a snapshot with the Allen RMA API.")
app.add_typer(corpus_app, name="corpus", help="Build replica snapshots (real and synthetic).")
app.add_typer(db_app, name="db", help="Warehouse schema migrations.")


def main() -> None:
    try:
        app(standalone_mode=False)
    except CtMirrorError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(1)
    except (typer.Abort, KeyboardInterrupt):
        typer.secho("aborted", fg="red", err=True)
        sys.exit(130)
    except Exception as exc:  # click usage errors and the like
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        raise

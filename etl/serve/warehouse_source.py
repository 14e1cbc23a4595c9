"""A synced mirror as a record source: the current ``raw`` records of every mirrored model, the
current pairs of its join tables and the verified files of ``mirror_files`` (I/O edge,
read-only).

A state is named by the newest finished sync (``sync_runs``). While a sync runs, nothing new
is loaded: on DuckDB the sync holds the file's lock (opening fails and the server keeps the
last state), on PostgreSQL the newest finished sync stays the same until the running one ends.
A state is read in one read-only transaction, so it never mixes two syncs.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ctmirror.schema.allen_model import MIRRORED_LINKS, MODELS
from ctmirror.schema.mirror import FileSource, MirrorFile
from ctmirror.schema.sync import SyncRun, SyncStatus
from ctmirror.serve.catalog import Catalog, FileEndpoint, FileKey, ServedFile
from ctmirror.serve.engine import QueryEngine
from ctmirror.warehouse.engine import create_warehouse_engine

log = logging.getLogger(__name__)

_ENDPOINTS: dict[str, FileEndpoint] = {
    FileSource.WELL_KNOWN_FILE: "well_known_file",
    FileSource.MODEL_PACKAGE: "model_zip",
    FileSource.PROJECTION_IMAGE: "section_image",
    FileSource.SUB_IMAGE: "section_image",
}
_FINISHED = (SyncStatus.SUCCEEDED, SyncStatus.COMPLETED_WITH_ERRORS)
#: Names the state of a warehouse no sync has finished in yet.
NO_SYNC = "no finished sync"


def readable_warehouse_url(url: str) -> str:
    """The warehouse a reader opens for ``url``: a DuckDB warehouse's published copy, swapped
    in whole at the end of each successful sync (so a running sync's lock never stops serve),
    else the database itself, opened read-only."""
    from ctmirror.warehouse.published import reader_url

    return reader_url(url)


def open_for_reading(url: str) -> sa.Engine:
    """A read-only engine on the warehouse readers use (``readable_warehouse_url``)."""
    return create_warehouse_engine(readable_warehouse_url(url), read_only=True)


class WarehouseSource:
    """The mirror at ``root`` with its warehouse at ``url``."""

    def __init__(self, url: str, root: Path) -> None:
        self.url = url
        self.root = Path(root)
        self._unreadable = False

    @property
    def description(self) -> str:
        return f"mirror {self.root} ({sa.make_url(self.url).render_as_string()})"

    def current_version(self) -> str | None:
        try:
            engine = open_for_reading(self.url)
        except Exception as exc:
            if not self._unreadable:  # once per spell, not every poll
                log.warning("the warehouse cannot be opened now (%s); serving the last state",
                            exc)
            self._unreadable = True
            return None
        self._unreadable = False
        try:
            with engine.connect() as conn:
                if _sync_running(conn):
                    return None
                return _newest_finished_sync(conn)
        finally:
            engine.dispose()

    def load(self) -> Catalog:
        engine = open_for_reading(self.url)
        try:
            with engine.connect() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(sa.text(
                        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
                version = _newest_finished_sync(conn)
                records = {model: current_records(conn, model) for model in MODELS}
                links = current_links(conn)
                files = verified_files(conn)
        finally:
            engine.dispose()
        return Catalog(version, QueryEngine.from_records(records, links), self.root, files)


def _sync_running(conn: sa.Connection) -> bool:
    runs = SyncRun.__table__
    return conn.execute(
        sa.select(sa.func.count()).select_from(runs).where(runs.c.status == SyncStatus.RUNNING)
    ).scalar_one() > 0


def _newest_finished_sync(conn: sa.Connection) -> str:
    runs = SyncRun.__table__
    newest = conn.execute(
        sa.select(runs.c.sync_id).where(runs.c.status.in_([s.value for s in _FINISHED]))
        .order_by(runs.c.finished_at.desc(), runs.c.sync_id.desc()).limit(1)
    ).scalar_one_or_none()
    return newest or NO_SYNC


def current_records(conn: sa.Connection, model: str) -> list[dict[str, Any]]:
    """The records of ``model`` not removed upstream, as the API sent them, by primary key."""
    spec = MODELS[model]
    table = spec.table
    rows = conn.execute(
        sa.select(table.c.raw).where(table.c.removed_at.is_(None))
        .order_by(table.c[spec.primary_key])
    )
    return [raw for (raw,) in rows]


def current_links(conn: sa.Connection) -> dict[tuple[str, str], list[tuple[int, int]]]:
    """The current pairs of every join table the mirror keeps, by (model, association); none
    from a warehouse older than the table (its published copy waits for the next sync)."""
    out: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for key, assoc in MIRRORED_LINKS.items():
        link = assoc.link_table
        assert link is not None, "MIRRORED_LINKS holds associations with a link table"
        table = link.table
        if not sa.inspect(conn).has_table(table.name):
            continue
        rows = conn.execute(sa.select(table.c[link.source], table.c[link.target])
                            .where(table.c.removed_at.is_(None)))
        out[key] = [(int(a), int(b)) for a, b in rows]
    return out


def verified_files(conn: sa.Connection) -> dict[FileKey, ServedFile]:
    """Every verified file whose record is current, by the endpoint and id that serve it."""
    files = MirrorFile.__table__
    rows = conn.execute(
        sa.select(files.c.source, files.c.source_id, files.c.relpath, files.c.size,
                  files.c.sha256, files.c.last_modified, files.c.downloaded_at)
        .where(files.c.removed_at.is_(None))
    )
    served: dict[FileKey, ServedFile] = {}
    for source, source_id, relpath, size, sha256, last_modified, downloaded_at in rows:
        endpoint = _ENDPOINTS.get(source)
        if endpoint is None:
            continue
        served[(endpoint, int(source_id))] = ServedFile(
            relpath, int(size), sha256, last_modified or _http_date(downloaded_at))
    return served


def _http_date(when: datetime) -> str:
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return format_datetime(aware.astimezone(UTC), usegmt=True)


__all__ = ["NO_SYNC", "WarehouseSource", "current_links", "current_records", "open_for_reading",
           "readable_warehouse_url", "verified_files"]

"""The published copy of a DuckDB warehouse: the file readers open (I/O edge).

DuckDB lets the process that writes a file be the only one to open it ("Conflicting lock is
held"), and DuckDB 2 writes a storage format that DuckDB 1.x, bundled by BI drivers and desktop
SQL clients, refuses. So at the end of each successful sync that changed something (a sync
that provably did not keeps the copy: ``ctmirror.sync.unchanged_since``) the writer copies the whole
warehouse (tables, views, comments) into ``<name>.published.duckdb`` beside it, in the storage
format of DuckDB 1.1 (``PUBLISHED_STORAGE_VERSION``): under a temporary name in the same
folder, flushed to disk, then renamed over the previous copy. A reader opening the copy gets
the state after one successful sync, never a half-applied one, and never waits for a lock; one
that holds the previous copy open keeps reading it until it closes (a rename leaves an open
file as it was).

The Parquet datasets change under a running sync too (files replaced, added, withdrawn), so
the copy's views do not read the live ``parquet/`` folder: each publication hard-links the
datasets' files into ``published/<generation>/`` under the mirror root (no byte is copied; the
converters replace a file by renaming a new one over it, which leaves the link's content as it
was) and points the copy's views there, by paths relative to the root. The generation of the
previous copy is kept for the readers that still hold it; older ones are removed.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import sqlalchemy as sa

from ctmirror.warehouse.engine import is_duckdb
from ctmirror.warehouse.views import PARQUET_FOLDER, parquet_source, sql_literal

#: The oldest DuckDB that opens the copy is 1.1.
PUBLISHED_STORAGE_VERSION = "v1.1.0"
#: Under the mirror root: one folder of linked Parquet files per publication.
PUBLISHED_FOLDER = "published"
_ALIAS = "ctmirror_published"
_GENERATION = re.compile(rf"{PUBLISHED_FOLDER}/([0-9TZ]+-[0-9a-f]+)/")


@dataclass(frozen=True)
class PublishedCopy:
    path: Path
    bytes: int
    seconds: float

    def summary(self) -> str:
        return f"{self.path.name}, {self.bytes / 1e6:.1f} MB in {self.seconds:.1f} s"


def published_path(database: Path) -> Path:
    """Where the published copy of the DuckDB file ``database`` lives: beside it."""
    return database.with_name(f"{database.stem}.published{database.suffix or '.duckdb'}")


def duckdb_file(url: str | sa.URL) -> Path | None:
    """The file of a DuckDB warehouse URL; None for PostgreSQL, an in-memory database or a
    malformed URL."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        return None
    if parsed.get_backend_name() != "duckdb" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def reader_url(url: str) -> str:
    """The warehouse URL a reader opens: the published copy of a DuckDB file when there is
    one, else ``url`` itself (PostgreSQL, or a warehouse no sync has finished on yet)."""
    database = duckdb_file(url)
    if database is None or not published_path(database).is_file():
        return url
    return sa.make_url(url).set(database=str(published_path(database))).render_as_string(
        hide_password=False)


def publish_copy(engine: sa.Engine, root: Path) -> PublishedCopy | None:
    """Write the published copy of the DuckDB warehouse ``engine`` opens, whose Parquet
    datasets are under the mirror ``root``, and swap it in atomically; None on PostgreSQL
    (readers use a read-only role there). The caller is the one writer of the warehouse (it
    holds the sync lock)."""
    database = duckdb_file(engine.url)
    if not is_duckdb(engine) or database is None:
        return None
    started = time.monotonic()
    root = Path(root).resolve()
    target = published_path(database.resolve())
    previous = _generations_read_by(target, root)
    generation = f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(3)}"
    folder = f"{PUBLISHED_FOLDER}/{generation}"
    _link_tree(root / PARQUET_FOLDER, root / folder)
    for stale in target.parent.glob(f".{target.name}.*"):  # left by a killed publication
        stale.unlink(missing_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        _copy_database(engine, partial, root, folder)
        _fsync(partial)
        # A write-ahead log beside the old copy belongs to it (a reader that opened it for
        # writing): replayed into the new copy it would corrupt it.
        target.with_name(f"{target.name}.wal").unlink(missing_ok=True)
        os.replace(partial, target)
        _fsync(target.parent)
    except BaseException:
        partial.unlink(missing_ok=True)
        shutil.rmtree(root / folder, ignore_errors=True)
        raise
    for old in (root / PUBLISHED_FOLDER).iterdir():
        if old.name not in {generation, *previous}:
            shutil.rmtree(old, ignore_errors=True)
    return PublishedCopy(target, target.stat().st_size, time.monotonic() - started)


def published_sync_id(engine: sa.Engine) -> str | None:
    """The run whose state the published copy of ``engine``'s DuckDB file holds (its latest
    finished run); None when there is no readable copy (or on PostgreSQL)."""
    database = duckdb_file(engine.url)
    if database is None:
        return None
    copy = published_path(database.resolve())
    if not copy.is_file():
        return None
    try:
        conn = duckdb.connect(str(copy), read_only=True)
        try:
            row = conn.execute("SELECT sync_id FROM sync_runs WHERE finished_at IS NOT NULL "
                               "ORDER BY started_at DESC LIMIT 1").fetchone()
        finally:
            conn.close()
    except duckdb.Error:
        return None
    return None if row is None else str(row[0])


def _copy_database(engine: sa.Engine, path: Path, root: Path, folder: str) -> None:
    """Copy every table, view and comment into a new DuckDB file at ``path``, its Parquet views
    reading ``root/folder``."""
    from ctmirror.schema.parquet import DATASETS

    raw = engine.raw_connection()
    try:
        conn: Any = raw.driver_connection
        source = conn.execute("SELECT current_database()").fetchone()[0]
        conn.execute(f"ATTACH {sql_literal(str(path))} AS {_ALIAS} "
                     f"(STORAGE_VERSION '{PUBLISHED_STORAGE_VERSION}')")
        try:
            conn.execute(f'COPY FROM DATABASE "{source}" TO {_ALIAS}')
            for dataset in DATASETS:
                conn.execute(f'CREATE OR REPLACE VIEW {_ALIAS}.main."{dataset.name}" AS '
                             f"SELECT * FROM {parquet_source(dataset, root, folder)}")
        finally:
            conn.execute(f"DETACH {_ALIAS}")
    finally:
        raw.close()


def _link_tree(source: Path, target: Path) -> None:
    """Hard-link every Parquet file under ``source`` to the same place under ``target``
    (copied where the file system has no hard links)."""
    for path in source.rglob("*.parquet"):
        if path.name.startswith("."):  # a file being written
            continue
        linked = target / path.relative_to(source)
        linked.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, linked)
        except OSError:
            shutil.copy2(path, linked)


def _generations_read_by(copy: Path, root: Path) -> set[str]:
    """The published generations the copy at ``copy`` reads (kept for its open readers)."""
    if not copy.is_file():
        return set()
    try:
        conn = duckdb.connect(str(copy), read_only=True,
                              config={"file_search_path": str(root)})
        try:
            views = conn.execute("SELECT sql FROM duckdb_views() WHERE NOT internal").fetchall()
        finally:
            conn.close()
    except duckdb.Error:
        return set()
    return {match for (sql,) in views for match in _GENERATION.findall(sql or "")}


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


__all__ = ["PUBLISHED_FOLDER", "PUBLISHED_STORAGE_VERSION", "PublishedCopy", "duckdb_file",
           "publish_copy", "published_path", "published_sync_id", "reader_url"]

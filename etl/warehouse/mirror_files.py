"""Reads and writes of ``mirror_files``: the mirror's record of every verified file."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from ctmirror.schema.allen_model import MODEL_TABLES
from ctmirror.schema.base import mapped_table
from ctmirror.schema.mirror import FileSource, MirrorFile

_files = mapped_table(MirrorFile)


@dataclass(frozen=True)
class MirroredFile:
    """One row of ``mirror_files``."""

    source: str
    source_id: int
    specimen_id: int | None
    url: str
    relpath: str
    kind: str
    size: int
    sha256: str
    record_hash: str | None
    removed_at: datetime | None
    converted_to: str | None
    converted_sha256: str | None
    converter_version: int | None
    conversion_error: str | None

    @property
    def key(self) -> tuple[str, int]:
        return (self.source, self.source_id)


_FIELDS = tuple(MirroredFile.__dataclass_fields__)


def mirrored_files(conn: sa.Connection, *, include_removed: bool = True
                   ) -> dict[tuple[str, int], MirroredFile]:
    query = sa.select(*(_files.c[name] for name in _FIELDS))
    if not include_removed:
        query = query.where(_files.c.removed_at.is_(None))
    # All at once and positional (the columns are selected in the fields' order): row by row
    # and by name costs more than the rest of a no-op sync's check of its files.
    return {(row[0], row[1]): MirroredFile(*row) for row in conn.execute(query).all()}


@dataclass(frozen=True)
class UnservedFiles:
    """Files a served mirror answers 404 for, as the real API does for a missing file."""

    #: Current WellKnownFile records with no verified copy (not downloaded, or not chosen).
    not_downloaded: int
    #: Verified files whose record disappeared upstream (kept on disk, no longer served).
    removed_upstream: int


def unserved_files(conn: sa.Connection) -> UnservedFiles:
    wkf = MODEL_TABLES["WellKnownFile"]
    served = sa.select(_files.c.source_id).where(
        _files.c.source == FileSource.WELL_KNOWN_FILE, _files.c.removed_at.is_(None))
    not_downloaded = conn.execute(
        sa.select(sa.func.count()).select_from(wkf)
        .where(wkf.c.removed_at.is_(None), wkf.c.id.not_in(served))
    ).scalar_one()
    removed = conn.execute(
        sa.select(sa.func.count()).select_from(_files).where(_files.c.removed_at.is_not(None))
    ).scalar_one()
    return UnservedFiles(int(not_downloaded), int(removed))


def upsert_mirrored(conn: sa.Connection, rows: Iterable[Mapping[str, Any]]) -> int:
    """Insert or replace rows by key, keeping a row's ``first_sync_id`` and its conversion
    columns when the file's bytes did not change."""
    rows = list(rows)
    if not rows:
        return 0
    keys = [(r["source"], r["source_id"]) for r in rows]
    kept: dict[tuple[str, int], sa.RowMapping] = {}
    for chunk in _chunks(keys, 500):
        condition = sa.or_(*(sa.and_(_files.c.source == s, _files.c.source_id == i)
                             for s, i in chunk))
        for old in conn.execute(sa.select(_files).where(condition)).mappings():
            kept[(old["source"], old["source_id"])] = old
        conn.execute(sa.delete(_files).where(condition))
    merged = []
    for row in rows:
        previous = kept.get((row["source"], row["source_id"]))
        new = dict(row)
        if previous is not None:
            new["first_sync_id"] = previous["first_sync_id"]
            if previous["sha256"] == new["sha256"]:
                for name in ("converted_to", "converted_sha256", "converter_version",
                             "converted_at", "converted_rows", "conversion_error"):
                    new.setdefault(name, previous[name])
        merged.append(new)
    conn.execute(sa.insert(_files), merged)
    return len(merged)


def touch_mirrored(conn: sa.Connection, keys: Iterable[tuple[str, int]], sync_id: str) -> None:
    """Mark files as still linked and still verified in this sync (no bytes changed)."""
    by_source: dict[str, list[int]] = {}
    for source, source_id in keys:
        by_source.setdefault(source, []).append(int(source_id))
    # One array parameter per source: a no-op sync touches every file, and thousands of bound
    # parameters in IN lists cost several times the update itself.
    for source, ids in by_source.items():
        conn.execute(sa.update(_files)
                     .where(_files.c.source == source,
                            _files.c.source_id.in_(sa.select(sa.func.unnest(
                                sa.cast(sa.bindparam("ids", ids), sa.ARRAY(sa.BigInteger))))))
                     .values(last_sync_id=sync_id, removed_at=None))


def mark_unlinked(conn: sa.Connection, files: Iterable[MirroredFile],
                  live_keys: set[tuple[str, int]]) -> list[MirroredFile]:
    """Set ``removed_at`` on the ``files`` (``mirrored_files``, as the caller read them) no
    current record links to; return them. The files stay on disk: a mirror keeps what was
    published."""
    now = datetime.now(UTC)
    gone = [f for f in files if f.removed_at is None and f.key not in live_keys]
    for chunk in _chunks(gone, 500):
        for source in {f.source for f in chunk}:
            ids = [f.source_id for f in chunk if f.source == source]
            conn.execute(sa.update(_files)
                         .where(_files.c.source == source, _files.c.source_id.in_(ids))
                         .values(removed_at=now))
    return gone


def record_conversion(conn: sa.Connection, key: tuple[str, int], *, converted_to: str | None,
                      sha256: str | None, version: int | None, rows: int | None,
                      error: str | None) -> None:
    source, source_id = key
    conn.execute(sa.update(_files)
                 .where(_files.c.source == source, _files.c.source_id == source_id)
                 .values(converted_to=converted_to, converted_sha256=sha256,
                         converter_version=version, converted_rows=rows,
                         conversion_error=error,
                         converted_at=datetime.now(UTC) if sha256 is not None else None))


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


__all__ = [
    "MirroredFile",
    "mark_unlinked",
    "mirrored_files",
    "record_conversion",
    "touch_mirrored",
    "upsert_mirrored",
]

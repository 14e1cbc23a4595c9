"""A digest of a mirror's state: every warehouse table's rows and every mirrored or derived file.

Two syncs of the same corpus end in the same state when their digests are equal, whatever the
run ids, times and request counts were (a fault-free sync against one with faults, or a sync
before and after a refactoring). Times, run ids and per-run bookkeeping are left out; every
other column and every byte of ``files/`` and ``parquet/`` (but empty placeholders) count.

    python -m tests.digest ROOT [--db URL] [--json OUT]

Self-contained (SQLAlchemy and the standard library only), so it reads a mirror written by
any version of the package.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Collection, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

#: Bookkeeping of single runs: what happened when, not what the mirror holds.
RUN_TABLES = frozenset({"sync_runs", "alembic_version"})
#: Columns that record when or in which run something happened.
VOLATILE_SUFFIXES = ("_at", "sync_id", "seconds")
VOLATILE_COLUMNS = frozenset({"first_seen", "last_seen", "sync_id"})
#: Folders below the root whose files are the mirror's content.
CONTENT_FOLDERS = ("files", "parquet")
#: Empty placeholders the views read while a dataset has no file yet: a schema, no content
#: (a sync that once had nothing to convert leaves them behind, harmlessly).
PLACEHOLDERS = "parquet/_empty/"


def _volatile(column: str) -> bool:
    return column in VOLATILE_COLUMNS or column.endswith(VOLATILE_SUFFIXES)


def _plain(value: Any) -> Any:
    """A JSON-stable form of one value (JSON columns come back as text or as objects)."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in "{[":
            try:
                return _plain(json.loads(stripped))
            except ValueError:
                return value
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return hashlib.sha256(bytes(value)).hexdigest()
    return value


def table_digests(url: str, ignore_columns: Mapping[str, Collection[str]] | None = None
                  ) -> dict[str, dict[str, Any]]:
    """``{table: {"rows": n, "sha256": ...}}`` over the non-volatile columns of every table,
    but those ``ignore_columns`` names per table."""
    engine = sa.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        out: dict[str, dict[str, Any]] = {}
        with engine.connect() as conn:
            for name in sorted(inspector.get_table_names()):
                if name in RUN_TABLES:
                    continue
                every = conn.execute(sa.text(f'SELECT * FROM "{name}" LIMIT 0')).keys()
                ignored = (ignore_columns or {}).get(name, ())
                columns = sorted(c for c in every if not _volatile(c) and c not in ignored)
                select = sa.select(*(sa.column(c) for c in columns)).select_from(sa.table(name))
                rows = sorted(json.dumps([_plain(v) for v in row], sort_keys=True, default=str)
                              for row in conn.execute(select))
                digest = hashlib.sha256("\n".join(rows).encode()).hexdigest()
                out[name] = {"rows": len(rows), "columns": len(columns), "sha256": digest}
        return out
    finally:
        engine.dispose()


def _files(root: Path) -> Iterator[Path]:
    for folder in CONTENT_FOLDERS:
        base = root / folder
        if base.is_dir():
            yield from (p for p in sorted(base.rglob("*"))
                        if p.is_file() and ".part" not in p.relative_to(root).as_posix()
                        and not p.relative_to(root).as_posix().startswith(PLACEHOLDERS))


def file_digests(root: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under the content folders."""
    out = {}
    for path in _files(root):
        hasher = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                hasher.update(block)
        out[path.relative_to(root).as_posix()] = hasher.hexdigest()
    return out


def mirror_digest(root: Path, url: str | None = None, *,
                  ignore_columns: Mapping[str, Collection[str]] | None = None) -> dict[str, Any]:
    root = Path(root).resolve()
    url = url or f"duckdb:///{root / 'warehouse.duckdb'}"
    return {"tables": table_digests(url, ignore_columns), "files": file_digests(root)}


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """One line per table or file whose digest differs (empty when the states are equal)."""
    lines = []
    for kind in ("tables", "files"):
        for key in sorted(set(a[kind]) | set(b[kind])):
            if a[kind].get(key) != b[kind].get(key):
                lines.append(f"{kind[:-1]} {key}: {a[kind].get(key)} != {b[kind].get(key)}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--db", help="warehouse URL (default: the root's DuckDB file)")
    parser.add_argument("--json", type=Path, help="write the digest here")
    parser.add_argument("--compare", type=Path, help="a digest JSON to compare against")
    args = parser.parse_args(argv)
    digest = mirror_digest(args.root, args.db)
    if args.json:
        args.json.write_text(json.dumps(digest, indent=1, sort_keys=True))
    tables, files = digest["tables"], digest["files"]
    print(f"{len(tables)} tables, {sum(t['rows'] for t in tables.values())} rows; "
          f"{len(files)} files")
    if args.compare:
        diff = differences(json.loads(args.compare.read_text()), digest)
        print("\n".join(diff) if diff else "identical")
        return 1 if diff else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The replica snapshot: what a replica server serves, laid out on disk.

A snapshot is a directory::

    snapshot.json                 {"format": "ctmirror-snapshot", "format_version": 1,
                                   "created_at": ISO-8601, "source": str, "seed": int | null,
                                   "counts": {Model: rows}, "nwb_cells": int}
    records/<Model>.jsonl         one flat record per line: the model's own attributes only
                                  (no nested associations), JSON-typed (ints, floats, booleans,
                                  null), sorted by primary key
    files/<wkf_id>/<basename>     the bytes of WellKnownFile <wkf_id>; <basename> is the last
                                  component of WellKnownFile.path
    links/<Model>.<association>.jsonl
                                  the pairs of a has_and_belongs_to_many association (a join
                                  table no model exposes): one [source id, target id] per line,
                                  sorted
    model_zips/<model_id>.zip     what /neuronal_model/download/<model_id> serves
    files.jsonl                   one line per stored file: {"kind": "well_known_file" |
                                  "model_zip", "id": int, "relpath": str, "size": int,
                                  "sha256": hex, "content_type": str, "last_modified": RFC 7231}

Section images (ProjectionImage, SubImage) are not stored: the replica renders a small
deterministic JPEG from the image record. Associations between models are not stored either:
they are foreign keys inside the records, described once in ``ctmirror.schema.allen_model``,
except the pairs of join-table associations (``links/``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Literal

from ctmirror.errors import SnapshotError
from ctmirror.schema.allen_model import MIRRORED_LINKS, MODELS, primary_key
from ctmirror.serve.catalog import content_type
from ctmirror.serve.engine import QueryEngine

FORMAT = "ctmirror-snapshot"
FORMAT_VERSION = 1

FileKind = Literal["well_known_file", "model_zip"]


@dataclass(frozen=True)
class StoredFile:
    kind: FileKind
    id: int
    relpath: str
    size: int
    sha256: str
    content_type: str
    last_modified: str


def _safe_basename(name: str) -> str:
    base = os.path.basename(name.replace("\\", "/"))
    if base in ("", ".", "..") or "\x00" in base:
        raise SnapshotError(f"unusable file name {name!r}")
    return base


class SnapshotWriter:
    """Writes a snapshot directory. Records are buffered per model and written sorted on close."""

    def __init__(self, root: Path, *, source: str, seed: int | None = None) -> None:
        self.root = Path(root)
        self.source = source
        self.seed = seed
        self._records: dict[str, list[dict[str, Any]]] = {}
        self._files: list[StoredFile] = []
        self._links: dict[tuple[str, str], set[tuple[int, int]]] = {}
        self.nwb_cells = 0
        (self.root / "records").mkdir(parents=True, exist_ok=True)
        (self.root / "files").mkdir(exist_ok=True)
        (self.root / "model_zips").mkdir(exist_ok=True)

    def add_record(self, model: str, record: dict[str, Any]) -> None:
        self._records.setdefault(model, []).append(record)

    def add_records(self, model: str, records: Iterable[dict[str, Any]]) -> None:
        self._records.setdefault(model, []).extend(records)

    def add_link(self, model: str, association: str, source_id: int, target_id: int) -> None:
        """One pair of the join-table association ``association`` of ``model``."""
        self._links.setdefault((model, association), set()).add((int(source_id), int(target_id)))

    def well_known_file_path(self, wkf_id: int, name: str) -> Path:
        """Where to write the bytes of a WellKnownFile (the caller writes, then calls add_file)."""
        folder = self.root / "files" / str(int(wkf_id))
        folder.mkdir(parents=True, exist_ok=True)
        return folder / _safe_basename(name)

    def model_zip_path(self, model_id: int) -> Path:
        return self.root / "model_zips" / f"{int(model_id)}.zip"

    def add_file(self, kind: FileKind, file_id: int, path: Path) -> StoredFile:
        """Index a file already written inside the snapshot."""
        path = Path(path)
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        stat = path.stat()
        stored = StoredFile(
            kind=kind,
            id=int(file_id),
            relpath=path.relative_to(self.root).as_posix(),
            size=stat.st_size,
            sha256=digest.hexdigest(),
            content_type=content_type(path.name),
            last_modified=format_datetime(datetime.fromtimestamp(int(stat.st_mtime), UTC),
                                          usegmt=True),
        )
        self._files.append(stored)
        return stored

    def write_bytes_file(self, wkf_id: int, name: str, data: bytes) -> StoredFile:
        path = self.well_known_file_path(wkf_id, name)
        path.write_bytes(data)
        return self.add_file("well_known_file", wkf_id, path)

    def close(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for model, rows in sorted(self._records.items()):
            key = primary_key(model)
            rows.sort(key=lambda r: r[key])
            _write_jsonl(self.root / "records" / f"{model}.jsonl", rows)
            counts[model] = len(rows)
        if self._links:
            (self.root / "links").mkdir(exist_ok=True)
        for (model, association), pairs in sorted(self._links.items()):
            _write_jsonl(self.root / "links" / f"{model}.{association}.jsonl", sorted(pairs))
        files = sorted(self._files, key=lambda f: (f.kind, f.id))
        _write_jsonl(self.root / "files.jsonl", (asdict(f) for f in files))
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "source": self.source,
            "seed": self.seed,
            "counts": counts,
            "nwb_cells": self.nwb_cells,
        }
        (self.root / "snapshot.json").write_text(json.dumps(meta, indent=2) + "\n")
        return meta


def _write_jsonl(path: Path, rows: Iterable[Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, separators=(",", ":"), allow_nan=False))
            fh.write("\n")
    os.replace(tmp, path)


class Snapshot:
    """Read access to a snapshot directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        meta_path = self.root / "snapshot.json"
        if not meta_path.is_file():
            raise SnapshotError(f"{self.root} is not a snapshot: no snapshot.json")
        self.meta: dict[str, Any] = json.loads(meta_path.read_text())
        if self.meta.get("format") != FORMAT:
            raise SnapshotError(f"{meta_path}: not a {FORMAT} file")
        if self.meta.get("format_version") != FORMAT_VERSION:
            raise SnapshotError(
                f"{meta_path}: format_version {self.meta.get('format_version')}, "
                f"this ctmirror reads {FORMAT_VERSION}"
            )

    def models(self) -> list[str]:
        return sorted(p.stem for p in (self.root / "records").glob("*.jsonl"))

    def iter_records(self, model: str) -> Iterator[dict[str, Any]]:
        path = self.root / "records" / f"{model}.jsonl"
        if not path.is_file():
            return
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)

    def mirrored_records(self, model: str) -> Iterator[dict[str, Any]]:
        """The records of ``model`` that a mirror synced from this snapshot holds: none of a
        model it does not mirror (``Product``, ...), nor files attached to such a model but
        those a join table it keeps lists (the templates' mechanism files)."""
        if model not in MODELS:
            return
        key = primary_key(model)
        listed = {target for (source, name), pairs in self.links().items()
                  if (source, name) in MIRRORED_LINKS
                  and MIRRORED_LINKS[(source, name)].target == model
                  for _, target in pairs}
        for record in self.iter_records(model):
            attached = "attachable_type" in record
            if not attached or record["attachable_type"] in MODELS or record[key] in listed:
                yield record

    def query_engine(self) -> QueryEngine:
        """The query engine over every model's records and the join-table links."""
        return QueryEngine.from_records(
            {model: self._read_records(model) for model in self.models()}, self.links()
        )

    def _read_records(self, model: str) -> list[dict[str, Any]]:
        path = self.root / "records" / f"{model}.jsonl"
        records: list[dict[str, Any]] = []
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise SnapshotError(f"{path}:{number}: not JSON ({exc.msg}); rebuild the "
                                        "snapshot") from None
                if not isinstance(record, dict):
                    raise SnapshotError(f"{path}:{number}: not a JSON object; rebuild the "
                                        "snapshot")
                records.append(record)
        return records

    def links(self) -> dict[tuple[str, str], list[tuple[int, int]]]:
        """The stored pairs of every join-table association, by (model, association)."""
        out: dict[tuple[str, str], list[tuple[int, int]]] = {}
        for path in sorted((self.root / "links").glob("*.jsonl")):
            model, _, association = path.stem.partition(".")
            with path.open(encoding="utf-8") as fh:
                out[(model, association)] = [
                    (int(a), int(b)) for a, b in (json.loads(line) for line in fh if line.strip())
                ]
        return out

    def files(self) -> list[StoredFile]:
        path = self.root / "files.jsonl"
        if not path.is_file():
            return []
        with path.open(encoding="utf-8") as fh:
            return [StoredFile(**json.loads(line)) for line in fh if line.strip()]

    def resolve(self, stored: StoredFile) -> Path:
        """The absolute path of a stored file, refusing anything outside the snapshot."""
        path = (self.root / stored.relpath).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            raise SnapshotError(f"file {stored.relpath!r} is outside the snapshot or missing")
        return path

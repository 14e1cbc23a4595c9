"""The staging package: the extract stage's output, the load stage's input (file I/O).

::

    <staging_root>/<sync_id>/
      manifest.json             see ``Manifest``
      <Model>/<page_key>.jsonl  the records of one fetched page, one JSON object per line
      links/<Model>.<association>/<page_key>.jsonl
                                the join-table pairs the records of that page listed, one
                                ``[source id, target id]`` per line (written before the page)

Pages and the manifest are written atomically (temporary file, fsync, ``os.replace``), so a
killed crawl leaves only whole pages and a resumed one can trust every page it finds.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import NotRequired, TypedDict, cast

import orjson

from ctmirror.crawl.records import Record
from ctmirror.errors import ConfigError, InputError
from ctmirror.schema.allen_model import primary_key

MANIFEST = "manifest.json"
_SYNC_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_MODEL = re.compile(r"[A-Z][A-Za-z0-9]*")
_ASSOCIATION = re.compile(r"[a-z][a-z0-9_]*")


class ModelEntry(TypedDict):
    complete: bool
    full_scope: bool
    #: The answers agreed with each other (pages continuous, ``total_rows`` matched).
    consistent: NotRequired[bool]
    rows: int
    pages: int
    #: ``ModelReport.api_total_rows``; absent from packages staged before it was kept.
    api_total_rows: NotRequired[int | None]


class ErrorEntry(TypedDict):
    model: str
    url: str
    message: str


class Manifest(TypedDict):
    sync_id: str
    api_base: str
    started_at: str
    # Set when a run got through the whole plan (errors or not); null while one is under way
    # or after one was killed.
    finished_at: str | None
    limit: int | None
    requests: int
    models: dict[str, ModelEntry]
    errors: list[ErrorEntry]


def page_key(request_path: str) -> str:
    """A stable file name for a page: a hash of its request URL relative to the API root, so the
    same query keeps its key if the server moves (a replica on a new port)."""
    return hashlib.sha256(request_path.encode()).hexdigest()[:32]


def check_sync_id(sync_id: str) -> str:
    if not _SYNC_ID.fullmatch(sync_id):
        raise ConfigError(
            f"sync id {sync_id!r} must be 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return sync_id


def atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _line(record: Record) -> str:
    """One staged record: orjson's UTF-8 where it writes what the load reads back (several times
    faster than the standard writer); else ASCII with escapes: a string the API sent with a lone
    surrogate has no UTF-8 spelling (orjson refuses it), and the load must see it to quarantine
    its record; NaN and infinities (orjson writes null) and nested values (not checked for
    them) are written as the standard writer spells them, for the load to refuse."""
    if all(map(_plain, record.values())):
        try:
            return orjson.dumps(record).decode() + "\n"
        except orjson.JSONEncodeError:  # a lone surrogate, an integer past 64 bits
            pass
    return json.dumps(record, separators=(",", ":")) + "\n"


def _plain(value: object) -> bool:
    if type(value) is float:
        return math.isfinite(value)
    return type(value) not in (dict, list)


def _pairs(text: str) -> list[tuple[int, int]]:
    pairs = []
    for line in text.splitlines():
        if line:
            pair = json.loads(line)
            if (not isinstance(pair, list) or len(pair) != 2
                    or not all(type(v) is int for v in pair)):
                raise ValueError(f"not a pair of ids: {line[:80]!r}")
            pairs.append((pair[0], pair[1]))
    return pairs


class StagingPackage:
    """One sync run's staging directory."""

    def __init__(self, staging_root: Path, sync_id: str) -> None:
        self.sync_id = check_sync_id(sync_id)
        self.root = Path(staging_root) / sync_id

    def _model_dir(self, model: str) -> Path:
        if not _MODEL.fullmatch(model):
            raise ConfigError(f"{model!r} is not an Allen model name")
        return self.root / model

    def page_path(self, model: str, key: str) -> Path:
        return self._model_dir(model) / f"{key}.jsonl"

    def write_page(self, model: str, key: str, records: list[Record]) -> None:
        folder = self._model_dir(model)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(folder / f"{key}.jsonl", "".join(map(_line, records)))

    def read_page(self, model: str, key: str) -> list[Record] | None:
        """The records of a staged page, or None when the page is not (validly) on disk."""
        path = self.page_path(model, key)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            return [json.loads(line) for line in text.splitlines() if line]
        except ValueError:
            # Only a hand-edited or disk-damaged file gets here (writes are atomic): refetch it.
            return None

    def _links_dir(self, model: str, association: str) -> Path:
        if not _ASSOCIATION.fullmatch(association):
            raise ConfigError(f"{association!r} is not an association name")
        return self.root / "links" / f"{self._model_dir(model).name}.{association}"

    def links_path(self, model: str, association: str, key: str) -> Path:
        return self._links_dir(model, association) / f"{key}.jsonl"

    def write_links(self, model: str, association: str, key: str,
                    pairs: list[tuple[int, int]]) -> None:
        """The pairs of ``association`` that page ``key`` of ``model`` listed; written before
        the page itself, so a staged page always has its pairs."""
        folder = self._links_dir(model, association)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(folder / f"{key}.jsonl", "".join(f"[{a},{b}]\n" for a, b in pairs))

    def read_links(self, model: str, association: str, key: str) -> list[tuple[int, int]] | None:
        """The staged pairs of one page, or None when they are not (validly) on disk."""
        path = self.links_path(model, association, key)
        try:
            return _pairs(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None

    def links(self, model: str, association: str) -> set[tuple[int, int]]:
        """Every staged pair of ``association`` of ``model``, over all pages."""
        out: set[tuple[int, int]] = set()
        for path in sorted(self._links_dir(model, association).glob("*.jsonl")):
            try:
                out.update(_pairs(path.read_text(encoding="utf-8")))
            except ValueError as exc:
                raise InputError(f"{path} is damaged ({exc}); delete the package and sync "
                                 "again") from exc
        return out

    def pages(self, model: str) -> list[Path]:
        return sorted(self._model_dir(model).glob("*.jsonl"))

    def iter_records(self, model: str) -> Iterator[Record]:
        """Every staged record of ``model``, page by page; a record may repeat across pages."""
        for path in self.pages(model):
            with path.open(encoding="utf-8") as fh:
                for line in fh:
                    if line.strip():
                        yield json.loads(line)

    def unique_records(self, model: str) -> dict[object, Record]:
        """The staged records of ``model`` keyed by primary key (repeats collapse)."""
        key = primary_key(model)
        return {record[key]: record for record in self.iter_records(model)}

    def read_manifest(self) -> Manifest | None:
        path = self.root / MANIFEST
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise InputError(f"{path} is not valid JSON ({exc}); delete the package") from exc
        if not isinstance(doc, dict) or doc.get("sync_id") != self.sync_id:
            raise InputError(f"{path} is not the manifest of sync {self.sync_id}; "
                                "delete the package or use another sync id")
        return cast(Manifest, doc)

    def write_manifest(self, manifest: Manifest) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write(self.root / MANIFEST, json.dumps(manifest, indent=2) + "\n")


__all__ = [
    "MANIFEST",
    "ErrorEntry",
    "Manifest",
    "ModelEntry",
    "StagingPackage",
    "atomic_write",
    "check_sync_id",
    "page_key",
]

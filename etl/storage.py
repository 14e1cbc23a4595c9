"""The mirror on object storage: its files and Parquet datasets under an fsspec URL
(``s3://bucket/prefix``), kept in step with the local working copy a sync writes.

A sync always works on a local directory (the warehouse when it is DuckDB, the staging pages,
the partial downloads, the files and datasets as it makes them). With an object store as the
root, every finished file is then put under its final key: a download once it is verified,
a dataset file once it is written. An object appears under its key only when its upload
completes (S3's PUT and multipart upload are atomic), so a reader of the store never sees a
partial file, and a file is listed in ``mirror_files`` only after its upload. Endpoint and
credentials come the standard AWS way (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, ...), read by botocore, never by ctmirror.

Which dataset files were put, with the size and modification time of the local copy then, is
kept in ``<work dir>/object-store.json``: a file rewritten locally is put again, an unchanged
one never is, and a file withdrawn locally is deleted from the store.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb
    import pyarrow.dataset as pads
    import pyarrow.fs as pafs

#: Under the work dir: what was put of each pushed folder (relpath -> [size, mtime_ns]).
PUSHED_MANIFEST = "object-store.json"
_CHUNK = 1 << 20


def is_store_url(root: str | os.PathLike[str]) -> bool:
    """Whether a root names an object store (``scheme://...``) rather than a local folder."""
    text = os.fspath(root)
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme.isalnum() and scheme != "file"


@dataclass(frozen=True)
class PushReport:
    put: int
    deleted: int
    bytes_put: int


class ObjectStore:
    """The files under one fsspec URL, addressed by paths relative to it (``files/...``)."""

    def __init__(self, url: str) -> None:
        import fsspec

        self.url = url.rstrip("/")
        # A fresh instance: fsspec caches them by arguments, not by the endpoint in the environment.
        fs, base = fsspec.core.url_to_fs(self.url, skip_instance_cache=True)
        self.fs: Any = fs
        self.base = base.rstrip("/")

    def __repr__(self) -> str:
        return f"ObjectStore({self.url!r})"

    def check(self) -> None:
        """Fail with one line when the store cannot be listed (no bucket, no credentials, no
        endpoint)."""
        from ctmirror.errors import ConfigError

        try:
            self.fs.ls(self.base.split("/", 1)[0], refresh=True)
        except Exception as exc:  # botocore raises its own types for endpoint and auth errors
            raise ConfigError(f"cannot use the object store {self.url}: "
                              f"{type(exc).__name__}: {exc}") from None

    def key(self, relpath: str) -> str:
        return f"{self.base}/{relpath.lstrip('/')}"

    def sizes(self, folder: str) -> dict[str, int]:
        """Every object under ``folder`` with its size, by path relative to the store (one
        listing, no request per object)."""
        self.fs.invalidate_cache()
        try:
            found = self.fs.find(self.key(folder), detail=True)
        except FileNotFoundError:
            return {}
        offset = len(self.base) + 1
        return {name[offset:]: int(info["size"]) for name, info in found.items()
                if info.get("type", "file") == "file"}

    def put(self, local: Path, relpath: str) -> None:
        """Upload a finished local file to its final key (the object appears only once
        complete)."""
        self.fs.put_file(str(local), self.key(relpath))

    def delete(self, relpaths: Iterable[str]) -> None:
        keys = [self.key(relpath) for relpath in relpaths]
        if keys:
            self.fs.rm(keys)

    def open(self, relpath: str) -> IO[bytes]:
        handle: IO[bytes] = self.fs.open(self.key(relpath), "rb")
        return handle

    def sha256(self, relpath: str) -> tuple[str, int]:
        """The sha256 and size of the object's bytes, read from the store."""
        digest = hashlib.sha256()
        size = 0
        with self.open(relpath) as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
        return digest.hexdigest(), size

    @contextmanager
    def local_copy(self, relpath: str, work: Path) -> Iterator[Path]:
        """The object fetched to a temporary file under ``work`` for the block."""
        work.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=work, prefix=".fetch-", suffix=Path(relpath).suffix)
        os.close(handle)
        path = Path(name)
        try:
            self.fs.get_file(self.key(relpath), str(path))
            yield path
        finally:
            path.unlink(missing_ok=True)

    def fetch(self, relpath: str, target: Path) -> None:
        """Copy an object to ``target`` (via a side file: the target appears only complete)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        side = target.with_name(f".{target.name}.fetch-{os.getpid()}")
        try:
            self.fs.get_file(self.key(relpath), str(side))
            os.replace(side, target)
        finally:
            side.unlink(missing_ok=True)

    def arrow_filesystem(self) -> tuple[pafs.FileSystem, str]:
        """A pyarrow filesystem over the store and the base path in it (for datasets)."""
        import pyarrow.fs as pafs

        return pafs.PyFileSystem(pafs.FSSpecHandler(self.fs)), self.base

    def push(self, root: Path, folder: str, manifest: Path) -> PushReport:
        """Make ``folder`` on the store equal to ``root/folder``: put each file that is new
        or changed since its last put (or missing from the store), delete each object put from
        here whose local file is gone. Hidden files (side files being written) are left out."""
        pushed = _read_manifest(manifest)
        local = {path.relative_to(root).as_posix(): path
                 for path in sorted((root / folder).rglob("*"))
                 if path.is_file() and not path.name.startswith(".")}
        remote = self.sizes(folder)
        put = bytes_put = 0
        try:
            for relpath, path in local.items():
                stat = path.stat()
                seen = [stat.st_size, stat.st_mtime_ns]
                if pushed.get(relpath) == seen and remote.get(relpath) == stat.st_size:
                    continue
                self.put(path, relpath)
                pushed[relpath] = seen
                put += 1
                bytes_put += stat.st_size
            # Only what this work dir put: a new or lost work dir deletes nothing it never had.
            gone = sorted(relpath for relpath in set(remote) - set(local) if relpath in pushed)
            self.delete(gone)
            for relpath in gone:
                pushed.pop(relpath, None)
        finally:
            _write_manifest(manifest, {k: v for k, v in pushed.items()
                                       if not k.startswith(folder + "/") or k in local})
        return PushReport(put=put, deleted=len(gone), bytes_put=bytes_put)


def store_datasets(store: ObjectStore) -> dict[str, pads.Dataset]:
    """Every Parquet dataset of the mirror on the store as a pyarrow dataset (lazy: files are
    listed now, read when scanned), by name; a dataset with no file yet is left out."""
    import pyarrow.dataset as pads

    from ctmirror.schema.parquet import DATASETS

    filesystem, base = store.arrow_filesystem()
    stored = store.sizes("parquet")
    out: dict[str, pads.Dataset] = {}
    for dataset in DATASETS:
        files = sorted(f"{base}/{relpath}" for relpath in stored
                       if relpath.startswith(f"parquet/{dataset.name}/")
                       and relpath.endswith(".parquet"))
        if files:
            out[dataset.name] = pads.dataset(files, schema=dataset.schema, format="parquet",
                                             filesystem=filesystem)
    return out


def register_store_datasets(conn: duckdb.DuckDBPyConnection, store: ObjectStore) -> list[str]:
    """Register each of the store's datasets on a DuckDB connection under its view name, so
    SQL reads it from the store (DuckDB scans a pyarrow dataset lazily, with projection and
    filter pushdown); return the names. The way in where DuckDB's own S3 extension cannot be
    installed."""
    datasets = store_datasets(store)
    for name, dataset in datasets.items():
        conn.register(name, dataset)
    return sorted(datasets)


def _read_manifest(path: Path) -> dict[str, list[int]]:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return {str(k): [int(x) for x in v] for k, v in data.items()} if isinstance(data, dict) else {}


def _write_manifest(path: Path, pushed: dict[str, list[int]]) -> None:
    side = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    side.write_text(json.dumps(pushed, sort_keys=True))
    os.replace(side, path)


__all__ = ["PUSHED_MANIFEST", "ObjectStore", "PushReport", "is_store_url",
           "register_store_datasets", "store_datasets"]

"""The mirror on an S3 object store (moto's server on 127.0.0.1): a sync mirrors, converts,
verifies and re-syncs with nothing put again; a sync killed during its uploads resumes, and no
object under a final key is ever partial."""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")

import boto3  # noqa: E402 - after the skips: only the test extra installs them
import duckdb  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from ctmirror.replica.faults import FaultConfig  # noqa: E402
from ctmirror.replica.server import serve_in_thread  # noqa: E402
from ctmirror.settings import Settings  # noqa: E402
from ctmirror.storage import ObjectStore, register_store_datasets  # noqa: E402
from ctmirror.sync import SyncResult, run_sync_locally  # noqa: E402
from ctmirror.warehouse.engine import create_warehouse_engine  # noqa: E402
from tests.digest import differences, file_digests, table_digests  # noqa: E402

BUCKET = "mirror"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass
class S3Server:
    endpoint: str
    #: (method, path, query) of every request, in order.
    requests: list[tuple[str, str, str]] = field(default_factory=list)

    def client(self) -> Any:
        return boto3.client("s3", endpoint_url=self.endpoint, **_boto_credentials())

    def writes(self) -> list[tuple[str, str, str]]:
        """Requests that create or change an object (PUT, multipart POST, DELETE) under a key."""
        return [(m, p, q) for m, p, q in self.requests
                if m in ("PUT", "POST", "DELETE") and p.strip("/").count("/") >= 1]

    def objects(self, prefix: str = "") -> dict[str, tuple[int, str]]:
        """Every object under ``prefix``: key -> (size, ETag)."""
        out: dict[str, tuple[int, str]] = {}
        for page in self.client().get_paginator("list_objects_v2").paginate(
                Bucket=BUCKET, Prefix=prefix):
            for item in page.get("Contents", []):
                out[item["Key"]] = (int(item["Size"]), item["ETag"])
        return out

    def download(self, prefix: str, out: Path) -> Path:
        client = self.client()
        for key in self.objects(prefix):
            target = out / key.removeprefix(prefix)
            target.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(BUCKET, key, str(target))
        return out


def _boto_credentials() -> dict[str, str]:
    return {"aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "region_name": CREDENTIALS["AWS_DEFAULT_REGION"]}


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    """moto's S3 server on a free loopback port, with one bucket, its requests logged, and the
    standard AWS variables pointing at it."""
    app = moto_server.DomainDispatcherApplication(moto_server.create_backend_app)
    log: list[tuple[str, str, str]] = []

    def logged(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        log.append((environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""),
                    environ.get("QUERY_STRING", "")))
        return app(environ, start_response)

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, logged, threaded=True,
                         request_handler=moto_server.MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    running = S3Server(f"http://127.0.0.1:{server.server_address[1]}", log)
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", running.endpoint)
    running.client().create_bucket(Bucket=BUCKET)
    try:
        yield running
    finally:
        server.shutdown()
        thread.join()


def _settings(api_base: str, work: Path, prefix: str, *, features: bool = True) -> Settings:
    """A sync of the store's ``prefix``; the GLIF stage is left out (it puts its datasets the
    way the other derived stages do, and is the slowest)."""
    settings = Settings()
    settings.root = f"s3://{BUCKET}/{prefix}"
    settings.work_dir = work
    settings.api.base_url = api_base
    settings.features.glif = False
    settings.features.ephys = settings.features.morphology = features
    return settings


def _verify(settings: Settings, *extra: str) -> Any:
    from typer.testing import CliRunner

    from ctmirror.cli import app

    env = {"CTMIRROR_WORK_DIR": str(settings.local_root)}
    return CliRunner().invoke(app, ["verify", "--root", str(settings.root), *extra], env=env)


def _state(s3: S3Server, settings: Settings, prefix: str, out: Path) -> dict[str, Any]:
    """The warehouse's rows and the digests of every file and dataset on the store."""
    return {"tables": table_digests(settings.warehouse_url()),
            "files": file_digests(s3.download(f"{prefix}/", out))}


def test_sync_on_s3_mirrors_converts_verifies_and_resyncs_with_nothing_put(
    synth_snapshot: Path, s3: S3Server, tmp_path: Path
) -> None:
    settings = _settings("", tmp_path / "work", "cells")
    with serve_in_thread(synth_snapshot) as replica:
        settings.api.base_url = replica.base_url
        first: SyncResult = run_sync_locally(settings.sync_config())
        assert first.errors == ()
        download = first.stages["download"]
        assert download.done > 0 and download.counts["uploaded"] == download.done

        # Every mirrored file is on the store with the size and sha256 its row records, and
        # every dataset file of the working copy is there byte for byte.
        engine = create_warehouse_engine(settings.warehouse_url(),
                                         mirror_root=settings.local_root)
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT relpath, size, sha256 FROM mirror_files")).all()
            sweeps = conn.execute(sa.text("SELECT count(*) FROM sweeps")).scalar_one()
        engine.dispose()
        assert len(rows) == download.done and sweeps > 0
        stored = s3.objects("cells/")
        client = s3.client()
        for relpath, size, sha256 in rows:
            assert stored[f"cells/{relpath}"][0] == size
            body = client.get_object(Bucket=BUCKET, Key=f"cells/{relpath}")["Body"].read()
            assert hashlib.sha256(body).hexdigest() == sha256
        work = settings.local_root
        local_parquet = {p.relative_to(work).as_posix(): p.read_bytes()
                         for p in (work / "parquet").rglob("*.parquet")
                         if not p.name.startswith(".")}
        assert any(k.startswith("parquet/sweeps/") for k in local_parquet)
        assert {k for k in stored if k.startswith("cells/parquet/")} == {
            f"cells/{k}" for k in local_parquet}
        for relpath, data in local_parquet.items():
            assert client.get_object(Bucket=BUCKET, Key=f"cells/{relpath}")["Body"].read() == data

        # Analysts' DuckDB reads the datasets from the store through pyarrow.
        reader = duckdb.connect()
        names = register_store_datasets(reader, ObjectStore(str(settings.root)))
        assert {"sweeps", "reconstruction_nodes", "ephys_spikes"} <= set(names)
        assert reader.execute("SELECT count(*) FROM sweeps").fetchone() == (sweeps,)
        reader.close()

        verified = _verify(settings, "--content")
        assert verified.exit_code == 0, verified.output
        assert f"checked {len(rows)} files" in verified.output
        before = _state(s3, settings, "cells", tmp_path / "before")

        # A second sync puts, posts and deletes nothing on the store.
        s3.requests.clear()
        again = run_sync_locally(settings.sync_config())
        assert again.errors == ()
        assert again.stages["download"].done == 0
        assert again.stages["download"].counts["uploaded"] == 0
        assert again.stages["download"].counts["up_to_date"] == len(rows)
        assert s3.writes() == []
        assert [m for m, _, _ in s3.requests if m == "GET"]  # it did look
    assert _state(s3, settings, "cells", tmp_path / "after") == before

    # An object changed on the store is found by verify, and --fix removes it.
    relpath = rows[0][0]
    client.put_object(Bucket=BUCKET, Key=f"cells/{relpath}", Body=b"x" * rows[0][1])
    damaged = _verify(settings)
    assert damaged.exit_code == 1
    assert relpath in damaged.output and "sha256" in damaged.output
    fixed = _verify(settings, "--fix")
    assert fixed.exit_code == 1
    assert f"cells/{relpath}" not in s3.objects("cells/")


@pytest.mark.slow
def test_sync_killed_during_uploads_resumes_with_no_partial_object_ever_visible(
    synth_snapshot: Path, s3: S3Server, tmp_path: Path
) -> None:
    with serve_in_thread(synth_snapshot) as replica:
        # The uninterrupted sync the killed one must end equal to.
        whole = _settings(replica.base_url, tmp_path / "whole", "whole", features=False)
        assert run_sync_locally(whole.sync_config()).errors == ()
        expected = _state(s3, whole, "whole", tmp_path / "whole-state")

        killed = _settings(replica.base_url, tmp_path / "killed", "killed", features=False)
        replica.faults = FaultConfig(throttle_bytes_per_s=4_000_000, throttle_scope="files")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CTMIRROR_")}
        env |= {"CTMIRROR_FILES__CONCURRENCY": "1", "CTMIRROR_FEATURES__GLIF": "false",
                "CTMIRROR_FEATURES__EPHYS": "false", "CTMIRROR_FEATURES__MORPHOLOGY": "false",
                "CTMIRROR_WORK_DIR": str(killed.local_root)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "ctmirror", "sync", "--no-prefect", "--api-base",
             replica.base_url, "--root", str(killed.root)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        seen: dict[str, set[int]] = {}
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            for key, (size, _) in s3.objects("killed/files/").items():
                seen.setdefault(key, set()).add(size)
            if len(seen) >= 5:
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        _, stderr = proc.communicate()
        assert proc.returncode == -signal.SIGKILL, stderr.decode()[-2000:]
        assert 5 <= len(seen) < len(expected["files"]), "not killed during the uploads"

        replica.faults = FaultConfig()
        resumed = run_sync_locally(killed.sync_config())
    assert resumed.resumed and resumed.errors == ()
    got = _state(s3, killed, "killed", tmp_path / "killed-state")
    assert differences(got, expected) == []
    assert got["files"] and got["files"] == expected["files"]
    # Every object seen while the killed sync uploaded had its final size from the start.
    final = s3.objects("killed/files/")
    assert {key: {final[key][0]} for key in seen} == seen


def test_push_puts_new_and_changed_files_and_deletes_only_what_it_put(
    s3: S3Server, tmp_path: Path
) -> None:
    store = ObjectStore(f"s3://{BUCKET}/p")
    work, manifest = tmp_path / "work", tmp_path / "work" / "object-store.json"
    (work / "parquet" / "a").mkdir(parents=True)
    (work / "parquet" / "a" / "one.parquet").write_bytes(b"1" * 10)
    (work / "parquet" / "a" / "two.parquet").write_bytes(b"2" * 20)
    (work / "parquet" / "a" / ".two.parquet.tmp-1").write_bytes(b"half")  # being written
    s3.client().put_object(Bucket=BUCKET, Key="p/parquet/a/theirs.parquet", Body=b"t")

    first = store.push(work, "parquet", manifest)
    assert (first.put, first.deleted, first.bytes_put) == (2, 0, 30)
    assert {k: size for k, (size, _) in s3.objects("p/").items()} == {
        "p/parquet/a/one.parquet": 10, "p/parquet/a/two.parquet": 20,
        "p/parquet/a/theirs.parquet": 1}

    s3.requests.clear()
    assert store.push(work, "parquet", manifest).put == 0
    assert s3.writes() == []

    (work / "parquet" / "a" / "one.parquet").write_bytes(b"3" * 10)  # rewritten, same size
    (work / "parquet" / "a" / "two.parquet").unlink()
    again = store.push(work, "parquet", manifest)
    assert (again.put, again.deleted) == (1, 1)
    body = s3.client().get_object(Bucket=BUCKET, Key="p/parquet/a/one.parquet")["Body"].read()
    assert body == b"3" * 10
    # Never put from here, so never deleted from here.
    assert set(s3.objects("p/")) == {"p/parquet/a/one.parquet", "p/parquet/a/theirs.parquet"}


@pytest.mark.parametrize(("root", "store", "local"), [
    ("data", None, "data"),
    ("/srv/mirror", None, "/srv/mirror"),
    ("s3://bucket/allen/cells/", "s3://bucket/allen/cells", "CACHE/ctmirror/s3/bucket/allen/cells"),
])
def test_a_root_is_a_folder_or_an_object_store_with_a_local_work_dir(
    root: str, store: str | None, local: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("CTMIRROR_ROOT", root)
    settings = Settings()
    assert settings.store_url == store
    assert settings.local_root == Path(local.replace("CACHE", str(tmp_path)))
    config = settings.sync_config()
    assert config.store == store and config.root == settings.local_root.resolve()
    monkeypatch.setenv("CTMIRROR_WORK_DIR", str(tmp_path / "work"))
    if store is not None:
        assert Settings().local_root == tmp_path / "work"

"""The failure notification: one JSON POST to a local HTTP listener; never an error of its own."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from ctmirror.notify import notify_failure
from ctmirror.settings import Settings, SyncConfig


def _config(tmp_path: Path, notify_url: str | None) -> SyncConfig:
    settings = Settings(root=tmp_path, api={"base_url": "http://api.example/"},
                        run={"notify_url": notify_url})
    return settings.sync_config()


@pytest.fixture
def listener() -> Iterator[tuple[str, list[tuple[str, dict[str, Any]]]]]:
    received: list[tuple[str, dict[str, Any]]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers["Content-Type"], json.loads(body)))
            self.send_response(200 if self.path == "/ok" else 500)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def test_a_failure_is_posted_once_as_json(
    tmp_path: Path, listener: tuple[str, list[tuple[str, dict[str, Any]]]]
) -> None:
    base, received = listener
    config = _config(tmp_path, f"{base}/ok")
    assert "/ok" not in config.model_dump_json()  # a secret, like the warehouse password
    assert notify_failure(config, "20261206T030000Z-abc123", "disk full\ntraceback...")
    [(content_type, body)] = received
    assert content_type == "application/json"
    assert body["sync_id"] == "20261206T030000Z-abc123"
    assert (body["status"], body["reason"]) == ("failed", "disk full")
    assert body["root"] == str(tmp_path.resolve()) and body["api_base"] == "http://api.example"
    assert body["text"].startswith("ctmirror sync 20261206T030000Z-abc123 failed on ")
    assert body["text"].endswith(": disk full")


def test_an_undeliverable_notification_is_logged_not_raised(
    tmp_path: Path, listener: tuple[str, list[tuple[str, dict[str, Any]]]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    base, received = listener
    assert not notify_failure(_config(tmp_path, f"{base}/broken"), None, "boom")
    assert len(received) == 1
    assert "could not deliver the failure notification: HTTPStatusError" in caplog.text
    assert base not in caplog.text  # the URL may hold the webhook's token
    # nothing set: nothing sent
    assert not notify_failure(_config(tmp_path, None), None, "boom")
    assert not notify_failure(_config(tmp_path, ""), None, "boom")
    assert len(received) == 1

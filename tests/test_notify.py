"""The failure notification: one JSON POST to a local HTTP listener; never an error of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ctmirror.notify import notify_failure
from ctmirror.settings import Settings, SyncConfig


def _config(tmp_path: Path, notify_url: str | None) -> SyncConfig:
    settings = Settings(root=tmp_path, api={"base_url": "http://api.example/"},
                        run={"notify_url": notify_url})
    return settings.sync_config()


def test_a_failure_is_posted_once_as_json(
    tmp_path: Path, webhook_listener: tuple[str, list[tuple[str, dict[str, Any]]]]
) -> None:
    base, received = webhook_listener
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
    tmp_path: Path, webhook_listener: tuple[str, list[tuple[str, dict[str, Any]]]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    base, received = webhook_listener
    assert not notify_failure(_config(tmp_path, f"{base}/broken"), None, "boom")
    assert len(received) == 1
    assert "could not deliver the failure notification: HTTPStatusError" in caplog.text
    assert base not in caplog.text  # the URL may hold the webhook's token
    # nothing set: nothing sent
    assert not notify_failure(_config(tmp_path, None), None, "boom")
    assert not notify_failure(_config(tmp_path, ""), None, "boom")
    assert len(received) == 1

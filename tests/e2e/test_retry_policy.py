"""One retry policy for the preflight, the queries and the files, honouring Retry-After."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ctmirror.errors import ApiError
from ctmirror.replica.faults import FaultConfig
from ctmirror.sync import preflight, run_sync_locally
from tests.e2e.test_sync import _config


def test_the_preflight_waits_out_a_busy_api(replica: Any, tmp_path: Path) -> None:
    # Three 503 answers with Retry-After: 0, then the API is back.
    replica.faults = FaultConfig.parse(["retry-after=queries:503:1:0", "first=3"])
    before = replica.request_count
    preflight(_config(replica.base_url, tmp_path / "mirror", "duckdb:///"
                      f"{tmp_path / 'w.duckdb'}"))
    assert replica.request_count - before == 4


def test_the_preflight_gives_up_on_an_api_it_cannot_connect_to(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = _config(f"http://127.0.0.1:{port}", tmp_path / "mirror",
                     f"duckdb:///{tmp_path / 'w.duckdb'}")
    with pytest.raises(ApiError, match="cannot use the API .* cannot connect"):
        preflight(config)


def test_queries_answered_500_are_retried(replica: Any, warehouse_url: str,
                                          tmp_path: Path) -> None:
    # The replica answers its status fault on queries with a success:false envelope, as the
    # API does: still a server failure, so retried like any 5xx.
    replica.faults = FaultConfig.parse(["status=queries:500:0.3", "seed=3", "first=40"])
    result = run_sync_locally(_config(replica.base_url, tmp_path / "mirror", warehouse_url,
                                      files=False))
    assert result.errors == ()
    assert result.load.inserted > 0

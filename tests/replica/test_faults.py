"""Fault injection: the spec syntax, the injector's decisions, and every fault on the wire."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ctmirror.errors import ConfigError
from ctmirror.replica.faults import Decision, Fault, FaultConfig, FaultInjector
from ctmirror.replica.server import serve_in_thread

from .tiny_snapshot import NWB_BYTES

QUERY = urllib.parse.quote("/api/v2/data/query.json?q=model::Donor", safe=";/?:@&=+$,")
FILE = "/api/v2/well_known_file_download/5001"


@pytest.fixture(scope="module")
def replica(tiny_snapshot: Path) -> Iterator[Any]:
    with serve_in_thread(tiny_snapshot) as running:
        yield running


@pytest.fixture
def http(replica: Any) -> Iterator[httpx.Client]:
    replica.faults = None
    with httpx.Client(base_url=replica.base_url, timeout=10) as client:
        yield client
    replica.faults = None


def test_parse_the_documented_example() -> None:
    config = FaultConfig.parse([
        "latency=0.05", "status=503:0.2", "retry-after=429:1.0:2", "drop=0.1",
        "truncate=files:0.1", "html=0.05", "throttle=200000", "first=3", "seed=7",
    ])
    assert config.latency_s == 0.05 and config.latency_scope == "all"
    assert config.throttle_bytes_per_s == 200_000 and config.seed == 7
    assert config.faults == (
        Fault("status", 0.2, "all", first=3, status=503),
        Fault("status", 1.0, "all", first=3, status=429, retry_after=2),
        Fault("drop", 0.1, "all", first=3),
        Fault("truncate", 0.1, "files", first=3),
        Fault("html", 0.05, "queries", first=3),
    )


def test_parse_scoped_latency_and_default_probability() -> None:
    config = FaultConfig.parse(["latency=queries:0.5", "status=files:500"])
    assert (config.latency_s, config.latency_scope) == (0.5, "queries")
    assert config.faults == (Fault("status", 1.0, "files", status=500),)


@pytest.mark.parametrize(
    "spec",
    ["status", "status=", "status=abc", "status=200", "drop=1.5", "drop=files:0.1:2",
     "retry-after=429:1.0", "html=files:0.5", "explode=1", "latency=-1", "throttle=0",
     "first=x"],
)
def test_bad_specs_are_config_errors(spec: str) -> None:
    with pytest.raises(ConfigError):
        FaultConfig.parse([spec])


def test_no_faults_by_default() -> None:
    injector = FaultInjector(FaultConfig())
    assert all(injector.decide(scope) == Decision() for scope in ("queries", "files", None))


def test_first_n_matching_requests() -> None:
    injector = FaultInjector(FaultConfig(faults=(Fault("status", scope="files", first=2),)))
    decisions = [injector.decide(s) for s in ("queries", "files", "files", "queries", "files")]
    assert [d.fault is not None for d in decisions] == [False, True, True, False, False]


def test_probability_is_reproducible_for_a_seed() -> None:
    def outcomes(seed: int) -> list[bool]:
        injector = FaultInjector(FaultConfig(faults=(Fault("drop", 0.3),), seed=seed))
        return [injector.decide("files").fault is not None for _ in range(200)]

    first = outcomes(11)
    assert first == outcomes(11)
    assert first != outcomes(12)
    assert 30 < sum(first) < 90  # about 60 of 200


def test_latency_and_throttle_follow_their_scopes() -> None:
    injector = FaultInjector(FaultConfig(latency_s=0.2, latency_scope="files",
                                         throttle_bytes_per_s=1000, throttle_scope="queries"))
    assert injector.decide("files") == Decision(0.2, None, None)
    assert injector.decide("queries") == Decision(0.0, 1000, None)


def test_status_fault_first_two_then_normal(replica: Any, http: httpx.Client) -> None:
    replica.faults = FaultConfig.parse(["status=503", "first=2"])
    codes = [http.get(QUERY).status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    assert http.get(QUERY).json()["success"] is True


def test_503_on_a_query_still_carries_an_rma_error_body(replica: Any, http: httpx.Client) -> None:
    replica.faults = FaultConfig(faults=(Fault("status", status=500),))
    response = http.get(QUERY)
    assert response.status_code == 500 and response.json()["success"] is False


def test_429_with_retry_after(replica: Any, http: httpx.Client) -> None:
    replica.faults = FaultConfig.parse(["retry-after=429:1.0:2"])
    response = http.get(FILE)
    assert response.status_code == 429 and response.headers["retry-after"] == "2"


def test_scope_keeps_queries_healthy_while_files_fail(replica: Any, http: httpx.Client) -> None:
    replica.faults = FaultConfig.parse(["status=files:503"])
    assert http.get(QUERY).status_code == 200
    assert http.get(FILE).status_code == 503


def test_html_outage_page_on_queries_only(replica: Any, http: httpx.Client) -> None:
    replica.faults = FaultConfig.parse(["html=1"])
    response = http.get(QUERY)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert b"temporarily unavailable" in response.content
    assert http.get(FILE).content == NWB_BYTES


def test_truncated_body_under_a_full_content_length(replica: Any, http: httpx.Client) -> None:
    replica.faults = FaultConfig.parse(["truncate=files:1"])
    received = bytearray()
    with pytest.raises(httpx.RemoteProtocolError), http.stream("GET", FILE) as response:
        assert response.headers["content-length"] == str(len(NWB_BYTES))
        for chunk in response.iter_raw():
            received += chunk
    assert bytes(received) == NWB_BYTES[: len(NWB_BYTES) // 2]


def test_truncated_query_body_is_not_json(replica: Any, http: httpx.Client) -> None:
    replica.faults = FaultConfig.parse(["truncate=queries:1"])
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(QUERY)


def test_dropped_connection_mid_body(replica: Any, http: httpx.Client) -> None:
    replica.faults = FaultConfig.parse(["drop=1"])
    with pytest.raises(httpx.TransportError):
        http.get(FILE)
    replica.faults = None
    assert http.get(FILE).content == NWB_BYTES  # the server itself is unharmed


def test_latency_and_throttle_deliver_intact_bodies(replica: Any, http: httpx.Client) -> None:
    replica.faults = FaultConfig.parse(["latency=0.01", "throttle=files:20000000"])
    assert http.get(FILE).content == NWB_BYTES
    assert http.get(QUERY).json()["total_rows"] == 2


def test_replacing_faults_resets_their_counters(replica: Any, http: httpx.Client) -> None:
    replica.faults = FaultConfig.parse(["status=503", "first=1"])
    assert http.get(QUERY).status_code == 503
    assert http.get(QUERY).status_code == 200
    replica.faults = FaultConfig.parse(["status=503", "first=1"])
    assert http.get(QUERY).status_code == 503
    assert replica.faults.faults[0].first == 1


def test_faults_given_at_start(tiny_snapshot: Path) -> None:
    config = FaultConfig(faults=(Fault("status", status=500, first=1),))
    with serve_in_thread(tiny_snapshot, faults=config) as running, \
            httpx.Client(base_url=running.base_url) as client:
        assert running.faults == config
        assert [client.get(QUERY).status_code for _ in range(2)] == [500, 200]


def test_skip_lets_the_first_requests_through_and_injected_counts_what_fired() -> None:
    config = FaultConfig.parse(["status=queries:503", "retry-after=files:429:1:2", "skip=2",
                                "first=3"])
    assert config.faults == (
        Fault("status", 1.0, "queries", first=3, skip=2, status=503),
        Fault("status", 1.0, "files", first=3, skip=2, status=429, retry_after=2),
    )
    injector = FaultInjector(config)
    fired = [injector.decide("queries").fault is not None for _ in range(7)]
    assert fired == [False, False, True, True, True, False, False]
    assert injector.decide("files").fault is None
    assert injector.injected == {"status 503": 3}
    assert FaultInjector(FaultConfig.parse(["drop=1", "first=2"])).injected == {}
    slowed = FaultInjector(FaultConfig.parse(["latency=queries:0.1", "throttle=files:100"]))
    slowed.decide("queries")
    slowed.decide("queries")
    slowed.decide("files")
    slowed.decide(None)
    assert slowed.injected == {"latency": 2, "throttle": 1}


def test_the_running_replica_counts_injected_faults(replica: Any, http: httpx.Client) -> None:
    replica.faults = FaultConfig.parse(["html=1", "first=2"])
    bodies = [http.get(QUERY).text for _ in range(3)]
    assert ["unavailable" in body.lower() for body in bodies] == [True, True, False]
    assert replica.injected == {"html": 2}

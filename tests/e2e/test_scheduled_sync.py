"""The sync as operators run it, on a local Prefect server (`prefect server start`), read back
through the Prefect client: a scheduled run's logs, artifact and task runs; two syncs of one
mirror at once; a sync whose API fails past every retry, and its notification."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa

from ctmirror.sync import STEPS
from tests.e2e.test_sync import _snapshot_counts, _warehouse_counts

pytestmark = [pytest.mark.slow, pytest.mark.scheduled]

BIN = Path(sys.executable).parent
T = TypeVar("T")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(what: str, probe: Callable[[], T | None], timeout: float) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"no {what} within {timeout:.0f} s")


REPO = Path(__file__).resolve().parents[2]
#: The Prefect server runs from its own virtualenv, as it does from its own image in
#: docker-compose.yml: prefect 3.8.8's scheduler cannot insert runs with SQLAlchemy 2.1 (which
#: ctmirror uses), so a server sharing ctmirror's environment never schedules a run.
SERVER_VENV = REPO / ".venv" / "prefect-server"


def _server_prefect() -> Path:
    """The `prefect` command of the server's virtualenv, made once."""
    import prefect

    prefect_bin = SERVER_VENV / "bin" / "prefect"
    python = SERVER_VENV / "bin" / "python"
    wanted = prefect.__version__
    if prefect_bin.is_file() and subprocess.run(
            [str(python), "-c", "import prefect; print(prefect.__version__)"],
            capture_output=True, text=True).stdout.strip() == wanted:
        return prefect_bin
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(SERVER_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-c",
                    str(REPO / "constraints.txt"), f"prefect=={wanted}", "sqlalchemy<2.1"],
                   check=True, timeout=1200)
    return prefect_bin


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A Prefect server on loopback whose scheduler looks for due runs every second; yields
    the environment a process needs to use it (and nothing of the caller's CTMIRROR_ or
    PREFECT_ settings)."""
    import httpx

    home = tmp_path_factory.mktemp("prefect-home")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CTMIRROR_", "PREFECT_"))}
    env |= {
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "1",
        "PREFECT_SERVER_SERVICES_SCHEDULER_RECENT_DEPLOYMENTS_LOOP_SECONDS": "1",
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
    }
    log = (home / "server.log").open("w")
    server = subprocess.Popen([str(_server_prefect()), "server", "start", "--host", "127.0.0.1",
                               "--port", str(port)], env=env, stdout=log, stderr=log)

    def healthy() -> bool:
        if server.poll() is not None:
            raise AssertionError(f"prefect server start exited {server.returncode}: "
                                 f"{(home / 'server.log').read_text()[-2000:]}")
        try:
            return httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).is_success
        except httpx.HTTPError:
            return False

    try:
        _wait_for("healthy Prefect server", healthy, 240)
        yield env
    finally:
        server.terminate()
        server.wait(30)
        log.close()


def _client(env: dict[str, str]) -> Any:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: env["PREFECT_API_URL"]}):
        return get_client(sync_client=True)


def _flow_runs(env: dict[str, str], **filters: Any) -> list[Any]:
    with _client(env) as client:
        return list(client.read_flow_runs(**filters))


def _runs(url: str) -> list[dict[str, Any]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.text(
                "SELECT sync_id, status, reason, stage_seconds FROM sync_runs "
                "ORDER BY started_at")).mappings()]
    finally:
        engine.dispose()


def test_a_scheduled_run_is_observable_in_prefect(
    prefect_server: dict[str, str], replica: Any, synth_snapshot: Path, tmp_path: Path
) -> None:
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        DeploymentFilter,
        DeploymentFilterName,
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )

    from ctmirror.flows.sync import SUMMARY_ARTIFACT

    root = tmp_path / "mirror"
    env = prefect_server | {"CTMIRROR_FEATURES__GLIF": "false"}
    serve = subprocess.Popen(
        [str(BIN / "ctmirror"), "schedule", "serve", "--interval", "30", "--name", "hourly",
         "--api-base", replica.base_url, "--root", str(root)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deployment = DeploymentFilter(name=DeploymentFilterName(any_=["hourly"]))

        def finished() -> Any:
            runs = _flow_runs(env, deployment_filter=deployment)
            done = [r for r in runs if r.state is not None and r.state.is_final()]
            return done[0] if done else None

        run = _wait_for("finished scheduled flow run", finished, 420)
    finally:
        serve.send_signal(signal.SIGINT)
        try:
            out, err = serve.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            serve.kill()
            out, err = serve.communicate()
    assert run.state.is_completed(), run.state
    # a clean shutdown: no traceback on the terminal
    assert "Traceback" not in out + err, err[-3000:]

    with _client(env) as client:
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))
        this_run = FlowRunFilter(id=FlowRunFilterId(any_=[run.id]))
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id])))

        def task_runs() -> list[Any] | None:
            found = client.read_task_runs(flow_run_filter=this_run)
            names = {r.name.rsplit("-", 1)[0] for r in found}
            return found if {s.name for s in STEPS} <= names else None

        tasks = _wait_for("task runs of every stage", task_runs, 60)
    messages = [(log.level, log.message) for log in logs]
    for step in STEPS:
        assert (20, f"{step.name}: started") in messages, step.name
        assert any(level == 20 and text.startswith(f"{step.name}: ") and "started" not in text
                   for level, text in messages), step.name
    # ctmirror's own INFO lines reach the run log too (the crawl's rows per model)
    assert any(text.startswith("ApiCellTypesSpecimenDetail: ") and "rows in" in text
               for _, text in messages)
    # a task run per stage, each Completed, plus opening and finishing the run
    states = {r.name.rsplit("-", 1)[0]: r.state.type.value for r in tasks}
    assert {s.name: states[s.name] for s in STEPS} == {s.name: "COMPLETED" for s in STEPS}
    assert states["open-run"] == states["finish-run"] == "COMPLETED"

    [artifact] = artifacts
    assert artifact.key == SUMMARY_ARTIFACT and artifact.type == "markdown"
    url = f"duckdb:///{root / 'warehouse.duckdb'}"
    counts = _warehouse_counts(url)
    expected = _snapshot_counts(synth_snapshot)
    assert {m: n for m, n in counts.items() if m in expected} == expected
    # the artifact's per-model rows are the warehouse's
    for model, n in expected.items():
        if n:
            assert f"| {model} | {n:,} | {n:,} | 0 | 0 | 0 | 0 |" in artifact.data, model
    [recorded] = _runs(url)
    assert recorded["status"] == "succeeded"
    assert f"# ctmirror sync {recorded['sync_id']}" in artifact.data
    seconds = recorded["stage_seconds"]
    seconds = json.loads(seconds) if isinstance(seconds, str) else seconds
    assert list(seconds) == [s.name for s in STEPS]
    assert all(value >= 0 for value in seconds.values())
    for name in seconds:
        assert f"| {name} | " in artifact.data


def test_two_syncs_of_one_mirror_at_once_one_runs(
    prefect_server: dict[str, str], replica: Any, synth_snapshot: Path, tmp_path: Path
) -> None:
    from ctmirror.replica.faults import FaultConfig

    root = tmp_path / "mirror"
    env = prefect_server | {"CTMIRROR_FILES__CATEGORIES": "none"}
    replica.faults = FaultConfig(latency_s=0.05)  # slow enough for the two to overlap
    args = [str(BIN / "ctmirror"), "sync", "--api-base", replica.base_url, "--root", str(root)]
    try:
        procs = [subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(2)]
        outcomes = [(p.wait(600), *p.communicate()) for p in procs]
    finally:
        replica.faults = FaultConfig()
    codes = sorted(code for code, _, _ in outcomes)
    assert codes == [0, 1], outcomes
    [(_, _, refused)] = [o for o in outcomes if o[0] == 1]
    assert refused.strip().splitlines() == [refused.strip()]
    assert refused.startswith("error: another ctmirror sync is running on this warehouse")
    # the warehouse is one sync's
    url = f"duckdb:///{root / 'warehouse.duckdb'}"
    expected = _snapshot_counts(synth_snapshot)
    assert {m: n for m, n in _warehouse_counts(url).items() if m in expected} == expected
    assert [r["status"] for r in _runs(url)] == ["succeeded"]


def test_an_api_failing_past_the_retries_fails_the_run_once(
    prefect_server: dict[str, str], replica: Any, tmp_path: Path,
    webhook_listener: tuple[str, list[tuple[str, dict[str, Any]]]],
) -> None:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import FlowRunSort

    from ctmirror.replica.faults import FaultConfig

    base, posts = webhook_listener
    hook_url = f"{base}/ok"
    root = tmp_path / "mirror"
    env = prefect_server | {
        "CTMIRROR_FILES__CATEGORIES": "none",
        "CTMIRROR_API__MAX_ATTEMPTS": "2",
        "CTMIRROR_RUN__RETRIES": "2",
        "CTMIRROR_RUN__RETRY_DELAY_S": "0.2",
        "CTMIRROR_RUN__NOTIFY_URL": hook_url,
    }
    # the two checks before the run (the CLI's and the flow's) pass; every later query fails
    replica.faults = FaultConfig.parse(["status=queries:503", "skip=2"])
    started = time.time()
    try:
        proc = subprocess.run([str(BIN / "ctmirror"), "sync", "--api-base", replica.base_url,
                               "--root", str(root)], env=env, capture_output=True, text=True,
                              timeout=600)
    finally:
        replica.faults = FaultConfig()
    assert proc.returncode == 1, proc.stderr
    # the terminal: the crawl's warnings, then the error in one line; no traceback
    assert "Traceback" not in proc.stderr, proc.stderr
    *warnings, last = proc.stderr.strip().splitlines()
    assert last.startswith(f"error: the API at {replica.base_url} answered none of")
    assert all(line.startswith("WARNING: ") and "batch failed" in line for line in warnings)

    url = f"duckdb:///{root / 'warehouse.duckdb'}"
    [run] = _runs(url)
    assert run["status"] == "failed"
    assert run["reason"].startswith(f"the API at {replica.base_url} answered none of")
    # one notification, about this run
    received = [body for _, body in posts]
    assert len(received) == 1, received
    [message] = received
    assert (message["sync_id"], message["status"], message["reason"]) == (
        run["sync_id"], "failed", run["reason"])
    assert message["root"] == str(root.resolve())
    assert run["sync_id"] in message["text"]

    runs = [r for r in _flow_runs(prefect_server, sort=FlowRunSort.START_TIME_DESC)
            if r.start_time is not None and r.start_time.timestamp() >= started - 1]
    [flow_run] = runs
    assert flow_run.state.is_failed(), flow_run.state
    with _client(prefect_server) as client:
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(
            id=FlowRunFilterId(any_=[flow_run.id])))
    [extract] = [t for t in tasks if t.name.startswith("extract-")]
    # the stage itself was retried (the crawl resumes), then failed
    assert extract.state.is_failed() and extract.run_count == 3, (extract.state, extract.run_count)

"""Where a derived stage's items are computed: every way gives every item's outcome once, with
a bounded number of items in flight, and a Dask worker that dies mid-item costs that item a
retry, not the run."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from ctmirror.errors import ConfigError
from ctmirror.item_runner import DaskTarget, compute_items, parse_dask


def cube(item: int) -> int:
    return item ** 3


def test_dask_targets_parse_and_bad_ones_say_why() -> None:
    assert parse_dask("local:2") == DaskTarget(local_workers=2)
    assert parse_dask(" tcp://scheduler:8786 ") == DaskTarget(address="tcp://scheduler:8786")
    assert parse_dask("10.0.0.5:8786") == DaskTarget(address="10.0.0.5:8786")
    for bad, says in (("local:0", "at least one worker"), ("local", "local:N"),
                      ("scheduler", "not a scheduler address")):
        with pytest.raises(ConfigError, match=says):
            parse_dask(bad)


def test_settings_refuse_a_bad_dask_target() -> None:
    from ctmirror.settings import FeaturesSettings

    assert FeaturesSettings(dask="local:3").dask == "local:3"
    assert FeaturesSettings(dask="  ").dask is None
    with pytest.raises(ConfigError, match="local:N"):
        FeaturesSettings(dask="locals:3")


@pytest.mark.parametrize("pool", ["processes", "threads"])
def test_every_item_once_in_processes_and_threads(pool: str) -> None:
    items = list(range(-5, 30))
    pairs = list(compute_items(cube, items, workers=2, pool=pool))  # type: ignore[arg-type]
    assert sorted(pairs) == [(i, i ** 3) for i in items]


def test_in_flight_items_stay_bounded() -> None:
    started: list[int] = []
    lock = threading.Lock()

    def note(item: int) -> int:
        with lock:
            started.append(item)
        return item

    runs = compute_items(note, list(range(100)), workers=2, pool="threads")
    taken = [next(runs) for _ in range(3)]
    # 2 workers x 2 in flight each, refilled one per result taken
    assert len(taken) == 3 and len(started) <= 4 + 3
    assert sorted(item for item, _ in [*taken, *runs]) == list(range(100))
    assert len(started) == 100


def test_one_worker_or_one_item_computes_here() -> None:
    here = threading.get_ident()
    assert list(compute_items(lambda _: threading.get_ident(), [1, 2], workers=1)) == [
        (1, here), (2, here)]
    assert list(compute_items(cube, [], workers=4, dask="local:2")) == []


def die_once(item: tuple[Path, int]) -> tuple[int, int]:
    """Kill this worker process the first time item 3 is computed (a marker file says so)."""
    marker, value = item
    if value == 3 and not marker.exists():
        marker.write_text(str(os.getpid()))
        os._exit(1)
    return value * value, os.getpid()


@pytest.mark.timeout(180)
def test_a_dask_worker_killed_mid_item_costs_that_item_a_retry(tmp_path: Path) -> None:
    marker = tmp_path / "killed"
    items = [(marker, value) for value in range(8)]
    outcomes = {item[1]: outcome for item, outcome in
                compute_items(die_once, items, workers=2, dask="local:2")}
    assert {value: square for value, (square, _) in outcomes.items()} == {
        value: value * value for value in range(8)}
    killed = int(marker.read_text())
    assert outcomes[3][1] != killed  # item 3 finished in another worker process
    assert os.getpid() not in {pid for _, pid in outcomes.values()}


@pytest.mark.timeout(180)
def test_items_on_a_local_dask_cluster_come_back_to_this_process() -> None:
    items = list(range(40))
    pairs = list(compute_items(cube, items, workers=1, dask="local:2"))
    assert sorted(pairs) == [(i, i ** 3) for i in items]

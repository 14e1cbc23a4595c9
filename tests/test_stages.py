"""The generic derived-stage runner: plan, withdraw, compute, write, report."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa

from ctmirror.settings import Settings
from ctmirror.stages import DerivedStage, Failure, Plan, StageReport, Tally, run_stage


def square(item: int) -> int | str:
    return "negative" if item < 0 else item * item


class Squares(DerivedStage[int, "int | str", str]):
    name = "squares"
    counts = ("total",)
    in_process = True
    compute = staticmethod(square)

    def plan(self) -> Plan[int, str]:
        return Plan([1, -2, 3], withdraw=["gone"])

    def withdraw(self, gone: Sequence[str]) -> None:
        self.withdrawn = list(gone)

    def write(self, item: int, outcome: int | str) -> Tally:
        if isinstance(outcome, str):
            return Tally(failures=(Failure("well_known_file", item, "", outcome),))
        return Tally(done=1, counts={"total": outcome})

    def publish(self) -> None:
        self.published = True


def test_run_stage_reports_failures_without_raising(tmp_path: Path) -> None:
    config = Settings(root=tmp_path).sync_config()
    stage = Squares(sa.create_engine("sqlite://"), config)
    report = run_stage(stage)
    assert report == StageReport("squares", pending=3, done=2, withdrawn=1,
                                 failures=(Failure("well_known_file", -2, "", "negative"),),
                                 counts={"total": 10})
    assert stage.withdrawn == ["gone"] and stage.published
    assert report.summary() == "2 of 3 done, 10 total, 1 failed, 1 withdrawn"


def test_sync_config_is_normalised_once(tmp_path: Path) -> None:
    config = Settings(root=tmp_path / "a" / ".." / "b", api={"base_url": "http://x:1/"},
                      limit=3).sync_config()
    assert config.api_base == "http://x:1"
    assert config.root == (tmp_path / "b").resolve()
    assert config.warehouse_url == f"duckdb:///{(tmp_path / 'b').resolve()}/warehouse.duckdb"
    assert config.limit == 3

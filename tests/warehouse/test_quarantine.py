"""Record contracts at load time: a record that breaks its model's contract is quarantined, kept
raw with the reason, and never blocks the other records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ctmirror.schema import Donor, EphysSweep
from ctmirror.warehouse.load import ModelCounts, load_staged
from tests.warehouse.staging import Record, write_package

donors = Donor.__table__
sweeps = EphysSweep.__table__


def _donor(donor_id: Any, **fields: Any) -> Record:
    return {"id": donor_id, "name": f"H{donor_id}", "sex": "F", **fields}


def _sweep(sweep_id: Any, **fields: Any) -> Record:
    return {"id": sweep_id, "specimen_id": 1, "sweep_number": 3, **fields}


def _ids(engine: sa.Engine, table: sa.Table) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(table.c.id).order_by(table.c.id)).scalars())


def _quarantine(engine: sa.Engine) -> list[tuple[str, str, str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT model, record_id, reason, raw FROM sync_quarantine "
            "ORDER BY model, record_id, reason"))]


def _write_raw_page(package: Path, model: str, lines: list[str]) -> None:
    """A page written as the crawler does, but with lines the test spells out (a lone surrogate
    only exists as an escape in JSON text)."""
    (package / model / "page0001.jsonl").write_text("".join(f"{line}\n" for line in lines),
                                                    encoding="utf-8")


def test_poisoned_records_are_quarantined_and_the_rest_load(engine: sa.Engine,
                                                            tmp_path: Path) -> None:
    package = write_package(tmp_path, "s1", {
        "Donor": [[_donor(1), _donor(2)]],
        "EphysSweep": [[_sweep(10), _sweep(11), _sweep(99999999999999999999), _sweep("abc"),
                        _sweep(12, sweep_number="x")]],
    })
    _write_raw_page(package, "Donor", ['{"id": 3, "name": "H\\ud800", "sex": "F"}'])
    report = load_staged(engine, package)
    assert _ids(engine, donors) == [1, 2]
    assert _ids(engine, sweeps) == [10, 11]
    assert report.models["Donor"] == ModelCounts(rows=2, inserted=2, quarantined=1)
    assert report.models["EphysSweep"] == ModelCounts(rows=2, inserted=2, quarantined=3)
    rows = _quarantine(engine)
    assert [(model, record_id) for model, record_id, _, _ in rows] == [
        ("Donor", "3"), ("EphysSweep", "12"), ("EphysSweep", "99999999999999999999"),
        ("EphysSweep", "abc")]
    reasons = {record_id: reason for _, record_id, reason, _ in rows}
    assert "Unicode" in reasons["3"]
    assert "sweep_number" in reasons["12"]
    assert "range" in reasons["99999999999999999999"]
    assert "integer" in reasons["abc"]
    # Kept raw, as escaped JSON text that any backend can store.
    raw = {record_id: raw for _, record_id, _, raw in rows}
    assert json.loads(raw["3"]) == {"id": 3, "name": "H\ud800", "sex": "F"}
    assert raw["3"].isascii()
    assert json.loads(raw["99999999999999999999"])["id"] == 99999999999999999999


def test_duplicates_collapse_or_quarantine(engine: sa.Engine, tmp_path: Path) -> None:
    # Identical copies collapse silently; copies that disagree are all quarantined (no copy is
    # more trustworthy than the other) and the warehouse row, if any, is left as it was.
    load_staged(engine, write_package(tmp_path, "s1", {"Donor": [[_donor(1), _donor(2)]]}))
    report = load_staged(engine, write_package(tmp_path, "s2", {
        "Donor": [[_donor(1), _donor(2, sex="M")], [_donor(1), _donor(2, sex="X")]],
    }))
    assert report.models["Donor"] == ModelCounts(rows=1, unchanged=1, quarantined=2)
    with engine.connect() as conn:
        assert list(conn.execute(sa.select(donors.c.id, donors.c.sex, donors.c.removed_at)
                                 .order_by(donors.c.id))) == [(1, "F", None), (2, "F", None)]
    assert [(m, i) for m, i, _, _ in _quarantine(engine)] == [("Donor", "2"), ("Donor", "2")]
    assert all("conflicting" in reason for _, _, reason, _ in _quarantine(engine))


def test_a_quarantined_record_is_not_removed(engine: sa.Engine, tmp_path: Path) -> None:
    load_staged(engine, write_package(tmp_path, "s1", {
        "EphysSweep": [[_sweep(10), _sweep(11)]]}))
    report = load_staged(engine, write_package(tmp_path, "s2", {
        "EphysSweep": [[_sweep(10), _sweep(11, sweep_number="x")]]}))
    assert report.models["EphysSweep"] == ModelCounts(rows=1, unchanged=1, quarantined=1)
    with engine.connect() as conn:
        assert list(conn.execute(sa.select(sweeps.c.id, sweeps.c.removed_at)
                                 .order_by(sweeps.c.id))) == [(10, None), (11, None)]


def test_nul_characters_are_quarantined_on_every_backend(engine: sa.Engine,
                                                        tmp_path: Path) -> None:
    # PostgreSQL cannot store U+0000 in text or JSONB: the same record must give the same
    # outcome on DuckDB.
    report = load_staged(engine, write_package(tmp_path, "s1", {
        "Donor": [[_donor(1), _donor(2, name="a\u0000b")]]}))
    assert report.models["Donor"] == ModelCounts(rows=1, inserted=1, quarantined=1)
    assert _ids(engine, donors) == [1]

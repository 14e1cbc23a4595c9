"""Merging staged packages: insert, update, unchanged, remove, restore, in one transaction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ctmirror.errors import InputError
from ctmirror.schema import ApiCellTypesSpecimenDetail, Donor, EphysSweep, SyncRecordHistory
from ctmirror.warehouse import load
from ctmirror.warehouse.load import LoadReport, ModelCounts, load_staged
from tests.warehouse.staging import Record, write_package

donors = Donor.__table__
history = SyncRecordHistory.__table__


def _donor(donor_id: int, **fields: Any) -> Record:
    return {"id": donor_id, "name": f"H{donor_id}", "sex": "F", **fields}


def _rows(engine: sa.Engine, table: sa.Table, *columns: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            sa.select(*(table.c[c] for c in columns)).order_by(*table.primary_key.columns))]


def _history(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            sa.select(history.c.record_id, history.c.sync_id, history.c.change_kind,
                      history.c.old_raw, history.c.new_raw)
            .order_by(history.c.sync_id, history.c.record_id))]


def _load(engine: sa.Engine, tmp_path: Path, sync_id: str, pages: dict[str, Any],
          **flags: Any) -> LoadReport:
    return load_staged(engine, write_package(tmp_path, sync_id, pages, **flags))


def test_real_records_load_typed(engine: sa.Engine, tmp_path: Path,
                                 real_records: dict[str, list[Record]]) -> None:
    # Every page staged twice, as overlapping queries would: records collapse by id.
    report = _load(engine, tmp_path, "s1", {m: [r, r] for m, r in real_records.items()})
    assert report.models["WellKnownFileType"] == ModelCounts(rows=9, inserted=9)
    assert report.models["WellKnownFile"] == ModelCounts(rows=9, inserted=9)
    assert report.inserted == sum(len(records) for records in real_records.values()) == 24
    sweeps = EphysSweep.__table__
    assert _rows(engine, sweeps, "id", "sweep_number", "stimulus_absolute_amplitude",
                 "peak_deflection", "first_sync_id", "removed_at") == [
        (396429050, 42, pytest.approx(110.000002162547), None, "s1", None)]
    (raw,) = _rows(engine, sweeps, "raw")[0]
    assert raw == real_records["EphysSweep"][0]


def test_insert_then_idempotent_reload(engine: sa.Engine, tmp_path: Path) -> None:
    package = write_package(tmp_path, "s1", {"Donor": [[_donor(1), _donor(2)], [_donor(3)]]})
    first = load_staged(engine, package)
    assert first.models == {"Donor": ModelCounts(rows=3, inserted=3)}
    (seen_before,) = _rows(engine, donors, "last_seen")[0]
    second = load_staged(engine, package)
    assert second.models == {"Donor": ModelCounts(rows=3, unchanged=3)}
    assert not second.changed
    assert _rows(engine, donors, "id", "name", "first_sync_id", "last_sync_id") == [
        (1, "H1", "s1", "s1"), (2, "H2", "s1", "s1"), (3, "H3", "s1", "s1")]
    (seen_after,) = _rows(engine, donors, "last_seen")[0]
    assert seen_after >= seen_before
    assert _history(engine) == []


def test_update_keeps_the_old_record_in_history(engine: sa.Engine, tmp_path: Path) -> None:
    _load(engine, tmp_path, "s1", {"Donor": [[_donor(1), _donor(2)]]})
    report = _load(engine, tmp_path, "s2", {"Donor": [[_donor(1, sex="M"), _donor(2)]]})
    assert report.models["Donor"] == ModelCounts(rows=2, updated=1, unchanged=1)
    assert _rows(engine, donors, "id", "sex", "first_sync_id", "last_sync_id") == [
        (1, "M", "s1", "s2"), (2, "F", "s1", "s2")]
    assert _history(engine) == [(1, "s2", "updated", _donor(1), _donor(1, sex="M"))]


def test_key_order_is_not_a_change(engine: sa.Engine, tmp_path: Path) -> None:
    _load(engine, tmp_path, "s1", {"Donor": [[{"id": 1, "name": "a", "sex": "F"}]]})
    ((raw,),) = _rows(engine, donors, "raw")
    order = list(raw)
    report = _load(engine, tmp_path, "s2", {"Donor": [[{"sex": "F", "name": "a", "id": 1}]]})
    assert report.models["Donor"] == ModelCounts(rows=1, unchanged=1)
    ((raw,),) = _rows(engine, donors, "raw")
    assert raw == {"id": 1, "name": "a", "sex": "F"}
    # raw is JSON text on both backends: the keys in the order the API sent them last
    assert (order, list(raw)) == (["id", "name", "sex"], ["sex", "name", "id"])


def test_removed_records_are_marked_then_restored(engine: sa.Engine, tmp_path: Path) -> None:
    _load(engine, tmp_path, "s1", {"Donor": [[_donor(1), _donor(2)]]})
    removal = _load(engine, tmp_path, "s2", {"Donor": [[_donor(1)]]})
    assert removal.models["Donor"] == ModelCounts(rows=1, unchanged=1, removed=1)
    rows = _rows(engine, donors, "id", "removed_at", "last_sync_id")
    assert rows[0] == (1, None, "s2")
    assert rows[1][0] == 2 and rows[1][1] is not None and rows[1][2] == "s1"
    # Absent again: already marked, not counted twice.
    again = _load(engine, tmp_path, "s3", {"Donor": [[_donor(1)]]})
    assert again.models["Donor"] == ModelCounts(rows=1, unchanged=1)
    restore = _load(engine, tmp_path, "s4", {"Donor": [[_donor(1), _donor(2, sex="M")]]})
    assert restore.models["Donor"] == ModelCounts(rows=2, unchanged=1, restored=1)
    assert _rows(engine, donors, "id", "sex", "removed_at", "last_sync_id", "first_sync_id") == [
        (1, "F", None, "s4", "s1"), (2, "M", None, "s4", "s1")]
    assert _history(engine) == [
        (2, "s2", "removed", _donor(2), None),
        (2, "s4", "restored", _donor(2), _donor(2, sex="M")),
    ]


@pytest.mark.parametrize(("complete", "full_scope"), [(False, True), (True, False)])
def test_no_removal_unless_complete_and_full_scope(
    engine: sa.Engine, tmp_path: Path, complete: bool, full_scope: bool
) -> None:
    _load(engine, tmp_path, "s1", {"Donor": [[_donor(1), _donor(2)]]})
    report = _load(engine, tmp_path, "s2", {"Donor": [[_donor(1)]]},
                   complete=complete, full_scope=full_scope)
    assert report.models["Donor"] == ModelCounts(rows=1, unchanged=1)
    assert [r[1] for r in _rows(engine, donors, "id", "removed_at")] == [None, None]


def test_models_absent_from_the_manifest_are_left_alone(engine: sa.Engine,
                                                         tmp_path: Path) -> None:
    _load(engine, tmp_path, "s1", {"Donor": [[_donor(1)]]})
    report = _load(engine, tmp_path, "s2", {"Structure": [[{"id": 385, "acronym": "VISp"}]]})
    assert set(report.models) == {"Structure"}
    assert _rows(engine, donors, "id", "removed_at") == [(1, None)]


def test_complete_model_with_no_rows_removes_everything(engine: sa.Engine,
                                                        tmp_path: Path) -> None:
    _load(engine, tmp_path, "s1", {"Donor": [[_donor(1)]]})
    report = _load(engine, tmp_path, "s2", {"Donor": []})
    assert report.models["Donor"] == ModelCounts(rows=0, removed=1)


def test_duplicates_across_pages_count_once(engine: sa.Engine, tmp_path: Path) -> None:
    report = _load(engine, tmp_path, "s1",
                   {"Donor": [[_donor(1), _donor(2)], [_donor(2), _donor(3)], [_donor(1)]]})
    assert report.models["Donor"] == ModelCounts(rows=3, inserted=3)
    assert [r[0] for r in _rows(engine, donors, "id")] == [1, 2, 3]


def test_cell_list_keyed_by_specimen_id(engine: sa.Engine, tmp_path: Path) -> None:
    cell = {"specimen__id": 313862022, "structure__layer": "2/3", "csl__x": "10010.97",
            "m__glif": 5, "nrwkf__id": None, "donor__species": "Mus musculus"}
    report = _load(engine, tmp_path, "s1", {"ApiCellTypesSpecimenDetail": [[cell]]})
    assert report.models["ApiCellTypesSpecimenDetail"].inserted == 1
    table = ApiCellTypesSpecimenDetail.__table__
    assert _rows(engine, table, "specimen__id", "structure__layer", "csl__x", "m__glif",
                 "nrwkf__id") == [(313862022, "2/3", 10010.97, 5, None)]


def test_a_load_that_fails_half_way_leaves_nothing(engine: sa.Engine, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _load(engine, tmp_path, "s1", {"Donor": [[_donor(1)]]})
    merge = load._merge_from_stage
    merged: list[str] = []

    def merge_then_fail(conn: sa.Connection, staged: Any, *args: Any, **kw: Any) -> ModelCounts:
        if merged:
            raise RuntimeError("killed")
        merged.append(staged.model)
        return merge(conn, staged, *args, **kw)

    monkeypatch.setattr(load, "_merge_from_stage", merge_then_fail)
    package = write_package(tmp_path, "s2", {
        "Donor": [[_donor(1, sex="M"), _donor(2)]],
        "EphysSweep": [[{"id": 7, "specimen_id": 1}]],
    })
    with pytest.raises(RuntimeError, match="killed"):
        load_staged(engine, package)
    assert merged == ["Donor"]
    assert _rows(engine, donors, "id", "sex", "last_sync_id") == [(1, "F", "s1")]
    assert _rows(engine, EphysSweep.__table__, "id") == []
    assert _history(engine) == []
    monkeypatch.setattr(load, "_merge_from_stage", merge)
    report = load_staged(engine, package)
    assert report.models["Donor"] == ModelCounts(rows=2, inserted=1, updated=1)


def test_a_record_without_id_is_quarantined_not_fatal(engine: sa.Engine,
                                                      tmp_path: Path) -> None:
    package = write_package(tmp_path, "s1", {
        "Donor": [[_donor(1)]],
        "EphysSweep": [[{"id": 7}, {"specimen_id": 1}]],
    })
    report = load_staged(engine, package)
    assert report.models["EphysSweep"] == ModelCounts(rows=1, inserted=1, quarantined=1)
    assert _rows(engine, donors, "id") == [(1,)]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT record_id, reason FROM sync_quarantine")).one() == (
            None, "id None is not an integer")


def test_package_problems(engine: sa.Engine, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no manifest.json"):
        load_staged(engine, tmp_path / "staging" / "missing")
    package = write_package(tmp_path, "s1", {"Gene": [[{"id": 1}]]})
    with pytest.raises(InputError, match="without a warehouse table"):
        load_staged(engine, package)
    package = write_package(tmp_path, "s2", {"Donor": [[_donor(1)]]})
    (package / "Donor" / "page0000.jsonl").write_text('{"id": 1,\n')
    with pytest.raises(InputError, match="unreadable"):
        load_staged(engine, package)


def test_a_package_marked_inconsistent_removes_nothing(engine: sa.Engine,
                                                       tmp_path: Path) -> None:
    _load(engine, tmp_path, "s1", {"Donor": [[_donor(1), _donor(2)]]})
    package = write_package(tmp_path, "s2", {"Donor": [[_donor(1)]]})
    manifest = json.loads((package / "manifest.json").read_text())
    manifest["models"]["Donor"]["consistent"] = False
    (package / "manifest.json").write_text(json.dumps(manifest))
    report = load_staged(engine, package)
    assert report.models["Donor"] == ModelCounts(rows=1, unchanged=1)


def _finish(engine: sa.Engine, report: LoadReport) -> None:
    from ctmirror.warehouse.runs import begin_sync_run, finish_sync_run

    begin_sync_run(engine, sync_id=report.sync_id, api_base="http://127.0.0.1:9", limit=None)
    finish_sync_run(engine, report.sync_id, report=report, requests=1, status="succeeded")


def test_a_suspicious_drop_is_held_until_the_next_sync_confirms_it(engine: sa.Engine,
                                                                   tmp_path: Path) -> None:
    sweeps = [{"id": n, "specimen_id": 1, "sweep_number": n} for n in range(1, 41)]
    _finish(engine, _load(engine, tmp_path, "s1", {"EphysSweep": [sweeps]}))
    # 30 of 40 vanish at once: held, nothing marked, reported.
    held = _load(engine, tmp_path, "s2", {"EphysSweep": [sweeps[:10]]})
    assert held.models["EphysSweep"] == ModelCounts(rows=10, unchanged=10, held=30)
    assert "removal held until the next sync confirms it: EphysSweep 30" in held.summary()
    assert [r for r in _rows(engine, EphysSweep.__table__, "id", "removed_at")
            if r[1] is not None] == []
    _finish(engine, held)
    # The next complete crawl still lacks them: confirmed, applied.
    confirmed = _load(engine, tmp_path, "s3", {"EphysSweep": [sweeps[:10]]})
    assert confirmed.models["EphysSweep"] == ModelCounts(rows=10, unchanged=10, removed=30)
    _finish(engine, confirmed)
    # A small drop (under the share, or under the minimum count) is applied at once.
    small = _load(engine, tmp_path, "s4", {"EphysSweep": [sweeps[:9]]})
    assert small.models["EphysSweep"] == ModelCounts(rows=9, unchanged=9, removed=1)


def test_a_held_drop_that_comes_back_removes_nothing(engine: sa.Engine, tmp_path: Path) -> None:
    sweeps = [{"id": n, "specimen_id": 1, "sweep_number": n} for n in range(1, 41)]
    _finish(engine, _load(engine, tmp_path, "s1", {"EphysSweep": [sweeps]}))
    _finish(engine, _load(engine, tmp_path, "s2", {"EphysSweep": []}))
    back = _load(engine, tmp_path, "s3", {"EphysSweep": [sweeps]})
    assert back.models["EphysSweep"] == ModelCounts(rows=40, unchanged=40)
    assert _history(engine) == []


def test_the_hold_share_is_a_setting(engine: sa.Engine, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from ctmirror.settings import Settings

    monkeypatch.setenv("CTMIRROR_WAREHOUSE__REMOVAL_HOLD_SHARE", "1")
    config = Settings().sync_config()
    assert config.removal_hold_share == 1.0
    sweeps = [{"id": n, "specimen_id": 1, "sweep_number": n} for n in range(1, 41)]
    _finish(engine, _load(engine, tmp_path, "s1", {"EphysSweep": [sweeps]}))
    report = load_staged(engine, write_package(tmp_path, "s2", {"EphysSweep": [sweeps[:10]]}),
                         hold_share=config.removal_hold_share)
    assert report.models["EphysSweep"] == ModelCounts(rows=10, unchanged=10, removed=30)


def test_join_table_pairs_merge_with_their_source_model(engine: sa.Engine,
                                                         tmp_path: Path) -> None:
    from ctmirror.schema import NeuronalModelTemplateWellKnownFile

    pairs = NeuronalModelTemplateWellKnownFile.__table__
    key = ("NeuronalModelTemplate", "well_known_files")
    templates = [[{"id": 1, "name": "perisomatic"}, {"id": 2, "name": "all active"}]]

    def load_pairs(sync_id: str, listed: list[tuple[int, int]], **flags: Any) -> ModelCounts:
        report = load_staged(engine, write_package(
            tmp_path, sync_id, {"NeuronalModelTemplate": templates}, links={key: listed},
            **flags))
        return report.links[pairs.name]

    assert load_pairs("s1", [(1, 10), (1, 11), (2, 11)]) == ModelCounts(rows=3, inserted=3)
    assert load_pairs("s2", [(1, 10), (1, 11), (2, 11)]) == ModelCounts(rows=3, unchanged=3)
    # a crawl that is no evidence removes nothing
    assert load_pairs("s3", [(1, 10)], complete=False) == ModelCounts(rows=1, unchanged=1)
    assert load_pairs("s4", [(1, 10)]) == ModelCounts(rows=1, unchanged=1, removed=2)
    assert load_pairs("s5", [(1, 10), (2, 11)]) == ModelCounts(rows=2, unchanged=1,
                                                              restored=1)
    assert _rows(engine, pairs, "neuronal_model_template_id", "well_known_file_id",
                 "first_sync_id", "last_sync_id") == [
        (1, 10, "s1", "s5"), (1, 11, "s1", "s2"), (2, 11, "s1", "s5")]
    with engine.connect() as conn:
        removed = conn.execute(sa.select(pairs.c.well_known_file_id)
                               .where(pairs.c.removed_at.is_not(None))).scalars().all()
    assert removed == [11]


def _load_in_run(engine: sa.Engine, tmp_path: Path, sync_id: str, pages: dict[str, Any],
                 monkeypatch: pytest.MonkeyPatch) -> tuple[LoadReport, int]:
    """Load ``pages`` as run ``sync_id``; also how many records were parsed and checked."""
    from ctmirror.warehouse.runs import begin_sync_run

    begin_sync_run(engine, sync_id=sync_id, api_base="http://api", limit=None)
    staged: list[str] = []
    real = load._stage_model

    def counted(package: Any, model: str, **kwargs: Any) -> Any:
        staged.append(model)
        return real(package, model, **kwargs)

    monkeypatch.setattr(load, "_stage_model", counted)
    report = _load(engine, tmp_path, sync_id, pages)
    return report, len(staged)


def test_pages_as_last_loaded_are_marked_seen_without_parsing(
        engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pages = {"Donor": [[_donor(1), _donor(2)], [_donor(3)]]}
    first, parsed = _load_in_run(engine, tmp_path, "s1", pages, monkeypatch)
    assert (first.models["Donor"], parsed) == (ModelCounts(rows=3, inserted=3), 1)
    second, parsed = _load_in_run(engine, tmp_path, "s2", pages, monkeypatch)
    assert (second.models["Donor"], parsed) == (ModelCounts(rows=3, unchanged=3), 0)
    assert second.models["Donor"].package_digest == first.models["Donor"].package_digest
    assert _rows(engine, donors, "id", "first_sync_id", "last_sync_id", "removed_at") == [
        (1, "s1", "s2", None), (2, "s1", "s2", None), (3, "s1", "s2", None)]
    # One record gone: the pages differ, so they are merged and the removal is seen.
    third, parsed = _load_in_run(engine, tmp_path, "s3", {"Donor": [[_donor(1), _donor(2)]]},
                                 monkeypatch)
    assert (third.models["Donor"], parsed) == (ModelCounts(rows=2, unchanged=2, removed=1), 1)
    # The same pages as s2 again: compared with the last load (s3), not an older one.
    fourth, parsed = _load_in_run(engine, tmp_path, "s4", pages, monkeypatch)
    assert (fourth.models["Donor"], parsed) == (ModelCounts(rows=3, unchanged=2, restored=1), 1)


def test_a_table_changed_since_the_last_load_is_merged_in_full(
        engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pages = {"Donor": [[_donor(1), _donor(2)]]}
    _load_in_run(engine, tmp_path, "s1", pages, monkeypatch)
    with engine.begin() as conn:
        conn.execute(sa.delete(donors).where(donors.c.id == 2))
    report, parsed = _load_in_run(engine, tmp_path, "s2", pages, monkeypatch)
    assert (report.models["Donor"], parsed) == (ModelCounts(rows=2, inserted=1, unchanged=1), 1)

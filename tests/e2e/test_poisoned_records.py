"""A sync of a replica with one poisoned record per model: every other record loads, each poisoned
one is quarantined, and the run is closed out."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import BigInteger, Double, Text
from typer.testing import CliRunner

from ctmirror.cli import app
from ctmirror.crawl.plan import DEFAULT_PLAN, key_fields
from ctmirror.schema import MODEL_TABLES, attribute_columns
from ctmirror.schema.allen_model import REFERENCE_MODELS, primary_key
from tests.e2e.test_sync import _config, _snapshot_counts, _warehouse_counts

HUGE = 99999999999999999999


def _values(record: dict[str, Any]) -> set[object]:
    return {v for v in record.values() if isinstance(v, int) and not isinstance(v, bool)}


def _poison(snapshot: Path) -> dict[str, str]:
    """Poison one record of every mirrored model in place; returns model -> kind."""
    records = {path.stem: [json.loads(line) for line in path.read_text().splitlines()]
               for path in (snapshot / "records").glob("*.jsonl")}
    keys = {name for names in key_fields(DEFAULT_PLAN).values() for name in names}
    poisoned: dict[str, str] = {}
    kinds = ("unicode", "huge id", "wrong type")
    for number, model in enumerate(sorted(m for m in records if m in MODEL_TABLES
                                          and m not in REFERENCE_MODELS)):
        rows = [r for r in records[model] if r.get("attachable_type") not in REFERENCE_MODELS]
        if not rows:
            continue
        pk = primary_key(model)
        # A record no other record points at, so poisoning its id hides no other record.
        elsewhere = Counter(v for rs in records.values() for r in rs for v in _values(r))
        leaves = [r for r in rows if elsewhere[r[pk]] == 1]
        columns = {c.name: c for c in attribute_columns(MODEL_TABLES[model])}
        # not a column the crawl follows or filters on, which would hide other records
        numeric = [n for n, c in columns.items() if n != pk and n not in keys
                   and not n.endswith("id") and isinstance(c.type, BigInteger | Double)]
        text = [n for n, c in columns.items() if isinstance(c.type, Text)
                and not n.endswith("_type")]  # attachable_type is a crawl filter
        kind = kinds[number % 3]
        if kind == "huge id" and not leaves:
            kind = "wrong type"
        if kind == "wrong type" and not numeric:
            kind = "unicode"
        target = leaves[-1] if leaves else rows[-1]
        if kind == "huge id":
            target[pk] = HUGE
        elif kind == "wrong type":
            target[numeric[0]] = "not a number"
        else:
            target[text[0] if text else "poison"] = "bad \ud800 text"
        poisoned[model] = kind
    for model, rows in records.items():
        # json.dumps escapes the lone surrogate, as the API would send it
        (snapshot / "records" / f"{model}.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in rows))
    return poisoned


def test_one_poisoned_record_per_model(synth_snapshot: Path, warehouse_url: str,
                                       tmp_path: Path) -> None:
    from ctmirror.replica.server import serve_in_thread
    from ctmirror.sync import run_sync_locally

    snapshot = tmp_path / "snapshot"
    shutil.copytree(synth_snapshot, snapshot)
    expected = _snapshot_counts(snapshot)
    poisoned = _poison(snapshot)
    assert set(poisoned.values()) == {"unicode", "huge id", "wrong type"}
    with serve_in_thread(snapshot) as replica:
        config = _config(replica.base_url, tmp_path / "mirror", warehouse_url, files=False)
        result = run_sync_locally(config)
        again = run_sync_locally(config)  # the poison blocks no later sync either

    counts = _warehouse_counts(warehouse_url)
    assert {m: counts[m] for m in expected} == {
        m: n - (m in poisoned) for m, n in expected.items()}
    assert result.load.quarantined == len(poisoned)
    assert again.load.quarantined == len(poisoned)
    assert again.load.inserted == again.load.removed == 0
    engine = sa.create_engine(warehouse_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT model, reason FROM sync_quarantine WHERE sync_id = :s"),
                {"s": result.sync_id}).all()
            status = conn.execute(sa.text(
                "SELECT status, quarantined FROM sync_runs WHERE sync_id = :s"),
                {"s": result.sync_id}).one()
    finally:
        engine.dispose()
    assert Counter(model for model, _ in rows) == Counter(list(poisoned))
    assert tuple(status) == ("completed_with_errors", len(poisoned))
    shown = CliRunner().invoke(app, ["status", "--root", str(tmp_path / "mirror"),
                                     "--db", warehouse_url])
    assert shown.exit_code == 0, shown.output
    assert "recently quarantined records" in shown.output
    assert "out of the BIGINT range" in shown.output

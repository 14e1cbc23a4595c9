"""Consistency checks of a snapshot directory, shared by the corpus tests."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from ctmirror.replica.snapshot import Snapshot
from ctmirror.schema.allen_model import API_MODELS, primary_key


def records_by_key(root: Path) -> dict[str, dict[Any, dict[str, Any]]]:
    snapshot = Snapshot(root)
    return {
        model: {r[primary_key(model)]: r for r in snapshot.iter_records(model)}
        for model in snapshot.models()
    }


def dangling_foreign_keys(root: Path) -> list[str]:
    """Every belongs_to key, polymorphic attachment and join-table pair that names no record."""
    records = records_by_key(root)
    problems = []
    for model, rows in records.items():
        spec = API_MODELS[model]
        for association in spec.associations.values():
            if association.kind != "belongs_to":
                continue
            targets = records.get(association.target, {})
            for key, row in rows.items():
                value = row.get(association.source_key)
                if value is not None and value not in targets:
                    problems.append(f"{model} {key}.{association.source_key}={value}")
    for (model, name), pairs in Snapshot(root).links().items():
        target = API_MODELS[model].associations[name].target
        for source, linked in pairs:
            if source not in records.get(model, {}) or linked not in records.get(target, {}):
                problems.append(f"{model}.{name} pair ({source}, {linked})")
    for key, wkf in records.get("WellKnownFile", {}).items():
        owner = records.get(wkf["attachable_type"], {})
        if wkf["attachable_id"] not in owner:
            problems.append(
                f"WellKnownFile {key} attached to missing "
                f"{wkf['attachable_type']} {wkf['attachable_id']}"
            )
    return problems


def file_problems(root: Path) -> list[str]:
    """Stored files whose size or sha256 differ from the index, and records without bytes."""
    snapshot = Snapshot(root)
    problems = []
    stored = {(f.kind, f.id): f for f in snapshot.files()}
    for f in stored.values():
        data = snapshot.resolve(f).read_bytes()
        if len(data) != f.size or hashlib.sha256(data).hexdigest() != f.sha256:
            problems.append(f"{f.relpath}: size or sha256 differs from files.jsonl")
    for wkf in snapshot.iter_records("WellKnownFile"):
        entry = stored.get(("well_known_file", wkf["id"]))
        if entry is None:
            problems.append(f"WellKnownFile {wkf['id']} has no bytes")
        elif Path(entry.relpath).name != Path(wkf["path"]).name:
            problems.append(f"WellKnownFile {wkf['id']} stored as {entry.relpath}")
        if wkf["download_link"] != f"/api/v2/well_known_file_download/{wkf['id']}":
            problems.append(f"WellKnownFile {wkf['id']} link {wkf['download_link']}")
    for model in snapshot.iter_records("NeuronalModel"):
        if ("model_zip", model["id"]) not in stored:
            problems.append(f"NeuronalModel {model['id']} has no zip")
    return problems


def wkf_id(link: str | None) -> int | None:
    return int(link.rsplit("/", 1)[1]) if link else None

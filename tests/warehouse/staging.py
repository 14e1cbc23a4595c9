"""Write staged packages by hand, as the crawler would (the staging contract)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

Record = dict[str, Any]


def write_package(
    root: Path,
    sync_id: str,
    pages: Mapping[str, Sequence[Sequence[Record]]],
    *,
    complete: bool = True,
    full_scope: bool = True,
    model_flags: Mapping[str, tuple[bool, bool]] | None = None,
    links: Mapping[tuple[str, str], Sequence[tuple[int, int]]] | None = None,
) -> Path:
    """``<root>/staging/<sync_id>`` with one page file per inner list of ``pages[model]``, and
    the join-table pairs ``links[(model, association)]`` in one links page each.

    ``model_flags`` overrides ``(complete, full_scope)`` per model.
    """
    package = root / "staging" / sync_id
    package.mkdir(parents=True)
    for (model, association), pairs in (links or {}).items():
        folder = package / "links" / f"{model}.{association}"
        folder.mkdir(parents=True)
        (folder / "page0000.jsonl").write_text("".join(f"[{a},{b}]\n" for a, b in pairs))
    models = {}
    for model, model_pages in pages.items():
        folder = package / model
        folder.mkdir()
        for number, records in enumerate(model_pages):
            text = "".join(json.dumps(r) + "\n" for r in records)
            (folder / f"page{number:04d}.jsonl").write_text(text, encoding="utf-8")
        done, scope = (model_flags or {}).get(model, (complete, full_scope))
        models[model] = {"complete": done, "full_scope": scope,
                         "rows": sum(len(p) for p in model_pages), "pages": len(model_pages)}
    manifest = {"sync_id": sync_id, "api_base": "http://127.0.0.1:9", "limit": None,
                "started_at": "2024-01-01T00:00:00+00:00", "finished_at": None, "requests": 1,
                "models": models, "errors": []}
    (package / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return package


def split_nested(model: str, record: Record, out: dict[str, list[Record]] | None = None
                 ) -> dict[str, list[Record]]:
    """The flat records of every model inside one nested API record (as the crawler would
    stage them after fetching each model on its own), keyed by model name."""
    from ctmirror.crawl.records import flat_record
    from ctmirror.schema.allen_model import MODELS

    out = {} if out is None else out
    out.setdefault(model, []).append(flat_record(model, record))
    associations = MODELS[model].associations
    for key, value in record.items():
        if key not in associations:
            continue
        target = associations[key].target
        for nested in value if isinstance(value, list) else [value]:
            if isinstance(nested, dict):
                split_nested(target, nested, out)
    return out

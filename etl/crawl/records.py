"""Record helpers for the crawl (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ctmirror.schema.allen_model import MODELS, association

Record = dict[str, Any]


def _is_nested(value: object) -> bool:
    if isinstance(value, dict):
        return True
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def flat_record(model: str, record: Record) -> Record:
    """``record`` without nested association objects or lists: the model's own attributes.

    Known association names are dropped whatever their value (an empty has_many list is still an
    association); any other object, or list of objects, is an association the catalog does not
    describe (``specimen_tags``, ``cell_soma_locations``, ...).
    """
    spec = MODELS.get(model)
    associations = spec.associations.keys() if spec else ()
    return {
        key: value
        for key, value in record.items()
        if key not in associations and not _is_nested(value)
    }


def link_pairs(model: str, records: Iterable[Record], name: str) -> list[tuple[int, int]]:
    """The (source id, target id) pairs that the join-table association ``name`` lists in
    ``model`` records fetched with it included, sorted; ids that are no usable integers are
    skipped, as in :func:`int_values`."""
    link = association(model, name)
    pairs: set[tuple[int, int]] = set()
    for record in records:
        listed = record.get(name)
        if not isinstance(listed, list):
            continue
        sources = int_values([record], link.source_key)
        if not sources:
            continue
        source = sources.pop()
        targets = int_values((t for t in listed if isinstance(t, dict)), link.target_key)
        pairs.update((source, target) for target in targets)
    return sorted(pairs)


def int_values(records: Iterable[Record], field: str) -> set[int]:
    """The distinct integer values of ``field`` (nulls, non-integers and numbers past BIGINT are
    no ids: the load quarantines their records, and a query naming them would be refused)."""
    out: set[int] = set()
    for record in records:
        value = record.get(field)
        if isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63:
            out.add(value)
    return out


__all__ = ["Record", "flat_record", "int_values", "link_pairs"]

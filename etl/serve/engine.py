"""The RMA query engine: a record source's records in memory, indexed, answering RmaQuery.

Semantics follow the RMA backend (Rails ActiveRecord over SQL), as far as they are known:

- Filters compare like SQL: NULL matches nothing but ``[attr$null]``; a value is read as a
  number when the attribute holds numbers (``[id$eq'123']``), as a boolean when it holds booleans.
- An association path in ``rma::criteria`` is an INNER JOIN: a row without a matching
  associated row is dropped. Every step of the path must match.
- ``rma::include`` nests associated records (belongs_to/has_one as an object or null,
  has_many/polymorphic as a list). A filter in an include restricts the nested list and, as an
  eager-load condition would, drops rows with nothing left to nest on that path.
- Criteria conditions on a path also restrict the nested list of the same include path
  (eager loading with the join's conditions), which AllenSDK's ``save_ephys_data`` relies on.
- Paging counts top-level objects; ``total_rows`` is every match, whatever ``count`` says.

Joins are evaluated set-wise (the keys of the matching associated rows, then a membership
test or an index lookup), so a query costs about the rows it touches, not rows x rows.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ctmirror.errors import QueryError
from ctmirror.schema.allen_model import API_MODELS, Association
from ctmirror.serve.rma_query import (
    Filter,
    OrderKey,
    PathNode,
    QualifiedName,
    RmaQuery,
    TabularColumn,
    Value,
    table_names,
)

log = logging.getLogger(__name__)

Record = dict[str, Any]
Kind = Literal["number", "bool", "str", "unknown"]
Predicate = Callable[[Any], bool]

_TRUE = frozenset(("true", "t", "1"))
_FALSE = frozenset(("false", "f", "0"))
_INT = re.compile(r"[+-]?\d+")


@dataclass(frozen=True)
class QueryResult:
    """One answered query: the page of top-level objects and the count of all matches.

    Rows may share dicts with the engine's tables: read them, never change them."""

    model: str
    rows: list[Record]
    start_row: int
    total_rows: int


class ModelTable:
    """The records of one model, sorted by primary key, with hash indexes on attributes.

    Indexes map an attribute value to the sorted positions of the records holding it. The
    primary key and every key named in the catalogue are indexed on load; any other attribute
    used in an ``$eq``/``$in`` filter is indexed on first use.
    """

    def __init__(self, model: str, records: list[Record]) -> None:
        self.model = model
        self.records = records
        attributes: set[str] = set()
        for record in records:
            attributes.update(record)
        self.attributes = frozenset(attributes)
        self.primary_key = API_MODELS[model].primary_key
        self._indexes: dict[str, dict[Any, list[int]] | None] = {}
        self._kinds: dict[str, Kind] = {}
        self._lock = threading.Lock()

    def index(self, attribute: str) -> dict[Any, list[int]] | None:
        """value → positions, or None when the attribute holds unhashable values."""
        try:
            return self._indexes[attribute]
        except KeyError:
            pass
        with self._lock:
            if attribute not in self._indexes:
                self._indexes[attribute] = self._build_index(attribute)
            return self._indexes[attribute]

    def _build_index(self, attribute: str) -> dict[Any, list[int]] | None:
        index: dict[Any, list[int]] = {}
        try:
            for position, record in enumerate(self.records):
                value = record.get(attribute)
                if value is not None:
                    index.setdefault(value, []).append(position)
        except TypeError:  # a list or object value: scanned instead
            return None
        return index

    def kind(self, attribute: str) -> Kind:
        """What the attribute holds, judged by its first non-null value."""
        kind = self._kinds.get(attribute)
        if kind is None:
            value = next((r[attribute] for r in self.records if r.get(attribute) is not None),
                         None)
            if isinstance(value, bool):
                kind = "bool"
            elif isinstance(value, int | float):
                kind = "number"
            elif value is None:
                kind = "unknown"
            else:
                kind = "str"
            self._kinds[attribute] = kind
        return kind

    def check_attribute(self, attribute: str, where: str) -> None:
        # A model without records (or not in the source) has no known attributes to check.
        if self.records and attribute not in self.attributes:
            raise QueryError(f"{self.model} has no attribute {attribute!r} ({where})")


class JoinTable:
    """The (source id, target id) pairs of one has_and_belongs_to_many association."""

    def __init__(self, pairs: Iterable[tuple[int, int]]) -> None:
        self.targets: dict[int, list[int]] = {}
        self.sources: dict[int, set[int]] = {}
        for source, target in sorted(set(pairs)):
            self.targets.setdefault(source, []).append(target)
            self.sources.setdefault(target, set()).add(source)

    def sources_of(self, targets: Iterable[Any]) -> set[int]:
        out: set[int] = set()
        for target in targets:
            out.update(self.sources.get(target, ()))
        return out


class QueryEngine:
    """All models of a record source, ready to answer queries. Immutable after construction apart
    from lazily built indexes, so one engine serves many threads."""

    def __init__(
        self,
        tables: dict[str, ModelTable],
        links: dict[tuple[str, str], list[tuple[int, int]]] | None = None,
    ) -> None:
        self.tables = tables
        self.joins = {key: JoinTable(pairs) for key, pairs in (links or {}).items()}
        for model in API_MODELS:
            self.tables.setdefault(model, ModelTable(model, []))
        for table in self.tables.values():
            for key in _catalog_keys(table.model):
                table.index(key)

    @classmethod
    def from_records(
        cls,
        records: dict[str, list[Record]],
        links: dict[tuple[str, str], list[tuple[int, int]]] | None = None,
    ) -> QueryEngine:
        """An engine over each model's records (sorted by primary key, as a query's ties
        are); models outside the catalogue are left out with a warning."""
        tables: dict[str, ModelTable] = {}
        for model, rows in records.items():
            if model not in API_MODELS:
                log.warning("model %s is not in the catalogue; not served", model)
                continue
            tables[model] = ModelTable(model, rows)
        return cls(tables, links)

    def join(self, model: str, association: str) -> JoinTable:
        """The pairs of a join-table association (none when the source holds none)."""
        return self.joins.get((model, association)) or _NO_PAIRS

    def record(self, model: str, key: Any) -> Record | None:
        """The record of ``model`` whose primary key is ``key``."""
        table = self.tables.get(model)
        if table is None:
            return None
        index = table.index(API_MODELS[model].primary_key)
        positions = index.get(key) if index is not None else None
        return table.records[positions[0]] if positions else None

    def run(self, query: RmaQuery, *, max_rows: int | None = None) -> QueryResult:
        """The answer to ``query``; a page of more than ``max_rows`` objects is refused (a
        QueryError) before any of it is built."""
        return _Evaluation(self, query, max_rows).run()


_NO_PAIRS = JoinTable(())


def _catalog_keys(model: str) -> set[str]:
    """The primary key and every attribute an association of the catalogue matches on."""
    keys = {API_MODELS[model].primary_key}
    for spec in API_MODELS.values():
        for assoc in spec.associations.values():
            if spec.name == model:
                keys.add(assoc.source_key)
            if assoc.target == model:
                keys.add(assoc.target_key)
                if assoc.kind == "polymorphic":
                    keys.add("attachable_type")
    return keys


def _constraint(node: PathNode) -> PathNode:
    """An include node as a join condition: only the sub-paths that can exclude rows."""
    return PathNode(node.association, node.model, node.filters,
                    tuple(_constraint(c) for c in node.children if c.constrains))


class _Evaluation:
    """One query run, with a cache of join results shared by its include and criteria paths."""

    def __init__(self, engine: QueryEngine, query: RmaQuery, max_rows: int | None) -> None:
        self.engine = engine
        self.query = query
        self.max_rows = max_rows
        self._selected: dict[tuple[str, tuple[Filter, ...], tuple[PathNode, ...]], list[int]] = {}

    def run(self) -> QueryResult:
        query, options = self.query, self.query.options
        self._check(query.model, query.filters, query.criteria + query.include)
        joins = query.criteria + tuple(_constraint(n) for n in query.include if n.constrains)
        positions = self.select(query.model, query.filters, joins)
        table = self.engine.tables[query.model]
        nested_order: dict[str, list[OrderKey]] = {}
        top_order: list[OrderKey] = []
        for key in options.order:
            node = next((n for n in query.include if n.association == key.table), None)
            if node is not None and key.table not in table_names(query.model):
                self.engine.tables[node.model].check_attribute(key.attribute, "in order")
                nested_order.setdefault(node.association, []).append(key)
            else:
                table.check_attribute(key.attribute, "in order")
                top_order.append(key)
        # Records are stored in primary-key order, which is also the order of ties.
        if [(k.attribute, k.descending) for k in top_order] != [(table.primary_key, False)]:
            positions = _sorted_positions(table.records, positions, top_order)
        end = None if options.num_rows is None else options.start_row + options.num_rows
        page_positions = positions[options.start_row:end]
        if self.max_rows is not None and len(page_positions) > self.max_rows:
            raise QueryError(f"the page would hold {len(page_positions)} rows, more than this "
                             f"server's limit of {self.max_rows}: page with num_rows and "
                             "start_row")
        page = [table.records[p] for p in page_positions]
        if options.tabular is not None:
            rows = [self._tabular_row(query.model, r, options.tabular) for r in page]
        else:
            rows = [
                self._nest(query.model, r, query.include, query.criteria, nested_order, None)
                for r in page
            ]
        return QueryResult(query.model, rows, options.start_row, len(positions))

    # -- validation -------------------------------------------------------------------------

    def _check(self, model: str, filters: Iterable[Filter], nodes: Iterable[PathNode]) -> None:
        table = self.engine.tables[model]
        for flt in filters:
            table.check_attribute(flt.attribute, "in a filter")
            if flt.op not in ("$li", "$il"):
                for value in flt.values:
                    _coerce(table, flt.attribute, value)
        for node in nodes:
            self._check(node.model, node.filters, node.children)

    # -- selection --------------------------------------------------------------------------

    def select(
        self, model: str, filters: tuple[Filter, ...], joins: tuple[PathNode, ...]
    ) -> list[int]:
        """Sorted positions of the records of ``model`` passing every filter and every join."""
        cache_key = (model, filters, joins)
        cached = self._selected.get(cache_key)
        if cached is not None:
            return cached
        table = self.engine.tables[model]
        positions, rest = _indexed_candidates(table, filters)
        predicates = [(f.attribute, _predicate(table, f)) for f in rest]
        if predicates:
            records = table.records
            positions = [
                p for p in positions
                if all(test(records[p].get(attr)) for attr, test in predicates)
            ]
        for node in joins:
            positions = self._join(table, positions, node)
        self._selected[cache_key] = positions
        return positions

    def _join(self, table: ModelTable, positions: list[int], node: PathNode) -> list[int]:
        """Keep the positions whose record has at least one associated record matching ``node``."""
        assoc = API_MODELS[table.model].associations[node.association]
        target = self.engine.tables[node.model]
        matched = self.select(node.model, node.filters + _polymorphic_filter(assoc, table.model),
                              node.children)
        keys = {target.records[p].get(assoc.target_key) for p in matched}
        keys.discard(None)
        if assoc.kind == "has_and_belongs_to_many":
            keys = set(self.engine.join(table.model, assoc.name).sources_of(keys))
        index = table.index(assoc.source_key)
        if index is not None and len(keys) * 8 < len(positions):
            # Few keys: look them up instead of testing every candidate.
            wanted = set(positions)
            found = {p for key in keys for p in index.get(key, ()) if p in wanted}
            return sorted(found)
        records = table.records
        return [p for p in positions if records[p].get(assoc.source_key) in keys]

    def _related(self, model: str, record: Record, assoc: Association) -> list[int]:
        value = record.get(assoc.source_key)
        if value is None:
            return []
        target = self.engine.tables[assoc.target]
        index = target.index(assoc.target_key)
        if assoc.kind == "has_and_belongs_to_many":
            linked = self.engine.join(model, assoc.name).targets.get(value, [])
            found = [p for key in linked for p in (index or {}).get(key, [])]
            return sorted(found)
        positions = index.get(value, []) if index is not None else [
            p for p, r in enumerate(target.records) if r.get(assoc.target_key) == value
        ]
        if assoc.kind == "polymorphic":
            positions = [p for p in positions
                         if target.records[p].get("attachable_type") == model]
        return positions

    # -- output -----------------------------------------------------------------------------

    def _nest(
        self,
        model: str,
        record: Record,
        include: Sequence[PathNode],
        criteria: Sequence[PathNode],
        nested_order: dict[str, list[OrderKey]],
        association: str | None,
    ) -> Record:
        out = _project(record, model, association, self.query.options.only,
                       self.query.options.except_)
        if not include:
            return out  # may be the stored record itself: rows are read-only
        out = dict(out) if out is record else out
        spec = API_MODELS[model]
        for node in include:
            assoc = spec.associations[node.association]
            target = self.engine.tables[node.model]
            positions = self._related(model, record, assoc)
            same_path = [c for c in criteria if c.association == node.association]
            conditions = [_constraint(node), *same_path]
            if any(c.filters or c.children for c in conditions):
                allowed = set(self.select(
                    node.model,
                    tuple(f for c in conditions for f in c.filters),
                    tuple(child for c in conditions for child in c.children),
                ))
                positions = [p for p in positions if p in allowed]
            children = _sorted([target.records[p] for p in positions],
                               nested_order.get(node.association, []))
            sub_criteria = [child for c in same_path for child in c.children]
            nested = [
                self._nest(node.model, child, node.children, sub_criteria, nested_order,
                           node.association)
                for child in children
            ]
            out[node.association] = nested if assoc.many else (nested[0] if nested else None)
        return out

    def _tabular_row(self, model: str, record: Record,
                     columns: tuple[TabularColumn, ...]) -> Record:
        row: Record = {}
        spec = API_MODELS[model]
        for column in columns:
            source, source_model = record, model
            if column.table is not None and column.table not in table_names(model):
                assoc = spec.associations.get(column.table)
                if assoc is None or assoc.many:
                    raise QueryError(f"tabular column {column.table}.{column.attribute}: only "
                                     f"belongs_to/has_one associations of {model} flatten")
                positions = self._related(model, record, assoc)
                related = self.engine.tables[assoc.target].records
                source, source_model = (related[positions[0]] if positions else {}), assoc.target
            self.engine.tables[source_model].check_attribute(column.attribute, "in tabular")
            row[column.alias] = source.get(column.attribute)
        return row


def _polymorphic_filter(assoc: Association, source_model: str) -> tuple[Filter, ...]:
    if assoc.kind != "polymorphic":
        return ()
    return (Filter("attachable_type", "$eq", (Value(source_model, quoted=True),)),)


def _indexed_candidates(
    table: ModelTable, filters: tuple[Filter, ...]
) -> tuple[list[int], tuple[Filter, ...]]:
    """Positions narrowed by the most selective indexable ``$eq``/``$in`` filter, and the
    filters left to test."""
    best: tuple[int, int, list[list[int]]] | None = None  # (rows, filter number, index hits)
    for i, flt in enumerate(filters):
        if flt.op not in ("$eq", "$in") or table.kind(flt.attribute) == "unknown":
            continue
        index = table.index(flt.attribute)
        if index is None:
            continue
        values = {_coerce(table, flt.attribute, v) for v in flt.values}
        hits = [index[v] for v in values if v in index]
        rows = sum(map(len, hits))
        if best is None or rows < best[0]:
            best = (rows, i, hits)
    if best is None:
        return list(range(len(table.records))), filters
    _, i, hits = best
    positions = hits[0] if len(hits) == 1 else sorted({p for hit in hits for p in hit})
    return positions, filters[:i] + filters[i + 1:]


def _coerce(table: ModelTable, attribute: str, value: Value) -> Any:
    """A filter value as the attribute's type: numbers for numbers, booleans for booleans."""
    kind = table.kind(attribute)
    text = value.text
    if kind == "number":
        try:
            return int(text) if _INT.fullmatch(text) else float(text)
        except ValueError:
            raise QueryError(f"{table.model}.{attribute} holds numbers; {text!r} is not a "
                             "number") from None
    if kind == "bool":
        lowered = text.lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        raise QueryError(f"{table.model}.{attribute} holds booleans; use true or false, "
                         f"not {text!r}")
    return text


def _predicate(table: ModelTable, flt: Filter) -> Predicate:
    op = flt.op
    if op in ("$exists", "$nonnull"):
        return lambda v: v is not None
    if op == "$null":
        return lambda v: v is None
    if op in ("$li", "$il"):
        pattern = _like_pattern(flt.values[0].text, ignore_case=op == "$il")
        return lambda v: v is not None and pattern.fullmatch(_text(v)) is not None
    values = [_coerce(table, flt.attribute, v) for v in flt.values]
    if op == "$in":
        wanted = set(values)
        return lambda v: v is not None and v in wanted
    target = values[0]
    compare: Callable[[Any, Any], bool] = {
        "$eq": lambda a, b: a == b,
        "$ne": lambda a, b: a != b,
        "$gt": lambda a, b: a > b,
        "$lt": lambda a, b: a < b,
        "$ge": lambda a, b: a >= b,
        "$le": lambda a, b: a <= b,
    }[op]

    def test(v: Any) -> bool:
        if v is None:
            return False
        try:
            return compare(v, target)
        except TypeError:  # a value of another type than the column's: no match, as in SQL
            return False

    return test


def _like_pattern(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.compile(regex, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _sort_key(attribute: str) -> Callable[[Record], tuple[int, int, Any]]:
    def key(record: Record) -> tuple[int, int, Any]:
        value = record.get(attribute)
        if value is None:
            return (1, 0, 0)
        if isinstance(value, int | float):
            return (0, 0, value)
        return (0, 1, value if isinstance(value, str) else json.dumps(value, sort_keys=True))

    return key


def _sorted(records: list[Record], order: Sequence[OrderKey]) -> list[Record]:
    """Records ordered by ``order`` (NULLs last ascending, first descending, as PostgreSQL
    does); ties keep their order (primary-key order)."""
    for key in reversed(order):
        records = sorted(records, key=_sort_key(key.attribute), reverse=key.descending)
    return records


def _sorted_positions(records: list[Record], positions: list[int], order: Sequence[OrderKey]
                      ) -> list[int]:
    for key in reversed(order):
        record_key = _sort_key(key.attribute)
        positions = sorted(positions, key=lambda p: record_key(records[p]),
                           reverse=key.descending)
    return positions


def _project(
    record: Record,
    model: str,
    association: str | None,
    only: tuple[QualifiedName, ...] | None,
    except_: tuple[QualifiedName, ...],
) -> Record:
    """``record`` with the only/except options applied to its level. A name applies to the top
    level when unqualified or qualified by the model's table, to nested records when qualified
    by their association or table. Unknown names are ignored, as the real API does."""
    if only is None and not except_:
        return record
    names = table_names(model)

    def applies(name: QualifiedName) -> bool:
        if name.table is None:
            return association is None
        return name.table == association or name.table in names

    keep = {n.name for n in only if applies(n)} & record.keys() if only is not None else set()
    drop = {n.name for n in except_ if applies(n)}
    if keep:
        return {k: v for k, v in record.items() if k in keep and k not in drop}
    if drop:
        return {k: v for k, v in record.items() if k not in drop}
    return record


__all__ = ["JoinTable", "ModelTable", "QueryEngine", "QueryResult"]

"""Parsing RMA query strings into a typed query (pure: a decoded string in, a value out).

The grammar is the normalized RMA syntax that AllenSDK and the Allen documentation use::

    query    := 'model::' MODEL group* (',' stage)*
    stage    := 'rma::criteria' (',' item)* | 'rma::include' (',' item)* | 'rma::options' group+
    item     := group+                                  filters on the stage's model
              | NAME group* ('(' item (',' item)* ')')? group*   an association path
    group    := '[' ATTR ('$' OP VALUE?)? ']'          ATTR may be table-qualified: 'table.attr'

Values are bare or single-quoted (RMA has no escape for a quote inside a quoted value);
``$in`` takes a comma list. Nothing in a query is ever executed: names are checked against
the model catalogue, and values stay text until the engine compares them with data.
Percent-decoding is the caller's job and must keep ``+`` (AllenSDK's order separator).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field, replace
from typing import Literal, cast

from ctmirror.errors import QueryError
from ctmirror.schema.allen_model import API_MODELS, AllenModel

#: Longer than any query AllenSDK or the crawl sends (200 ids of 9 digits is ~2 kB).
MAX_QUERY_LENGTH = 100_000

#: Filter operators. ``$exists`` is the bare ``[attr]`` form; ``$null``/``$nonnull`` are
#: accepted as the spelled-out forms of "is null" / "is not null".
Operator = Literal[
    "$eq", "$ne", "$gt", "$lt", "$ge", "$le", "$in", "$li", "$il", "$null", "$nonnull", "$exists"
]
_VALUE_OPERATORS = ("eq", "ne", "gt", "lt", "ge", "le", "in", "li", "il")
_NO_VALUE_OPERATORS = ("nonnull", "null")

DEFAULT_NUM_ROWS = 50

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ATTRIBUTE = re.compile(r"(?:([A-Za-z_][A-Za-z0-9_]*)\.)?([A-Za-z_][A-Za-z0-9_]*)")
_INT = re.compile(r"[+-]?\d+")
_ORDER_ITEM = re.compile(
    r"(?:([A-Za-z_][A-Za-z0-9_]*)\.)?([A-Za-z_][A-Za-z0-9_]*)(?:[+ $](asc|desc))?", re.IGNORECASE
)
_TABULAR_ITEM = re.compile(
    r"(?:([A-Za-z_][A-Za-z0-9_]*)\.)?([A-Za-z_][A-Za-z0-9_]*)"
    r"(?:[+ ]as[+ ]([A-Za-z_][A-Za-z0-9_]*))?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Value:
    """One filter value as written: its text, and whether it was single-quoted."""

    text: str
    quoted: bool = False


@dataclass(frozen=True)
class Filter:
    attribute: str
    op: Operator
    values: tuple[Value, ...] = ()
    # The table part of a qualified attribute ('structures' in 'structures.graph_order').
    table: str | None = None


@dataclass(frozen=True)
class PathNode:
    """An association followed from the enclosing model, with its filters and sub-paths."""

    association: str
    model: str
    filters: tuple[Filter, ...] = ()
    children: tuple[PathNode, ...] = ()

    @property
    def constrains(self) -> bool:
        """Whether this path can exclude rows: it or a descendant has a filter."""
        return bool(self.filters) or any(c.constrains for c in self.children)


@dataclass(frozen=True)
class OrderKey:
    attribute: str
    descending: bool = False
    table: str | None = None


@dataclass(frozen=True)
class QualifiedName:
    name: str
    table: str | None = None


@dataclass(frozen=True)
class TabularColumn:
    attribute: str
    alias: str
    table: str | None = None


@dataclass(frozen=True)
class Options:
    num_rows: int | None = DEFAULT_NUM_ROWS  # None: all rows
    start_row: int = 0
    order: tuple[OrderKey, ...] = ()
    count: bool = True
    only: tuple[QualifiedName, ...] | None = None
    except_: tuple[QualifiedName, ...] = ()
    tabular: tuple[TabularColumn, ...] | None = None
    debug: bool | Literal["preview"] = False


@dataclass(frozen=True)
class RmaQuery:
    model: str
    filters: tuple[Filter, ...] = ()
    criteria: tuple[PathNode, ...] = ()
    include: tuple[PathNode, ...] = ()
    options: Options = field(default_factory=Options)


def parse_query(q: str) -> RmaQuery:
    """Parse a percent-decoded ``q``/``criteria`` value; raise QueryError on anything malformed."""
    _check_text(q)
    if not q.strip():
        raise QueryError("empty query; an RMA query starts with model::<Model>")
    items = _split_top_level(q)
    if not items or not items[0].startswith("model::"):
        raise QueryError(f"an RMA query starts with model::<Model>, got {_clip(q)!r}")
    model_name, model_groups = _split_head(items[0][len("model::"):], "model::")
    if model_name not in API_MODELS:
        raise QueryError(
            f"unknown model {model_name!r}; known models: {', '.join(sorted(API_MODELS))}"
        )
    spec = API_MODELS[model_name]
    filters = list(_parse_filters(model_groups, spec))
    criteria: list[PathNode] = []
    include: list[PathNode] = []
    options = Options()
    seen_options = False
    target: list[PathNode] | None = None
    for item in items[1:]:
        if item in ("rma::criteria", "rma::include"):
            target = criteria if item == "rma::criteria" else include
            continue
        if item.startswith("rma::options"):
            if seen_options:
                raise QueryError("rma::options given twice; put every option in one stage")
            options = _parse_options(item[len("rma::options"):])
            seen_options = True
            target = None
            continue
        if "::" in item.split("[", 1)[0]:
            raise QueryError(f"unsupported stage {_clip(item)!r}; the replica serves one model:: "
                             "stage with rma::criteria, rma::include and rma::options")
        if target is None:
            raise QueryError(f"{_clip(item)!r} is outside any rma::criteria or rma::include stage")
        parsed_filters, nodes = _parse_items(item, spec)
        if target is include and parsed_filters:
            raise QueryError(f"rma::include takes association paths, not filters: {_clip(item)!r}")
        filters.extend(parsed_filters)
        target.extend(nodes)
    return RmaQuery(model_name, tuple(filters), tuple(criteria), tuple(include), options)


@functools.cache
def table_names(model: str) -> frozenset[str]:
    """Names that may qualify an attribute of ``model``: 'Specimen', 'specimen', 'specimens'."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", model).lower()
    plural = snake if snake.endswith("s") else snake + "s"
    return frozenset((model, snake, plural))


def _check_text(q: str) -> None:
    if len(q) > MAX_QUERY_LENGTH:
        raise QueryError(f"query of {len(q)} characters is longer than {MAX_QUERY_LENGTH}; "
                         "split it into several queries")
    bad = next((c for c in q if ord(c) < 0x20 or ord(c) == 0x7F), None)
    if bad is not None:
        raise QueryError(f"query contains the control character {bad!r}; remove it")


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _split_top_level(text: str, *, separator: str = ",") -> list[str]:
    """Split on ``separator`` outside brackets, parentheses and quotes; check their balance."""
    parts: list[str] = []
    depth_square = depth_round = 0
    quoted = False
    start = 0
    for pos, char in enumerate(text):
        if char == "'":
            # Quotes only delimit values inside brackets; elsewhere they are an error below.
            if depth_square == 0:
                raise QueryError(f"quote outside a [...] filter at {pos}: {_clip(text)!r}")
            quoted = not quoted
        elif quoted:
            continue
        elif char == "[":
            if depth_square:
                raise QueryError(f"nested '[' at {pos}: {_clip(text)!r}")
            depth_square = 1
        elif char == "]":
            if not depth_square:
                raise QueryError(f"unbalanced ']' at {pos}: {_clip(text)!r}")
            depth_square = 0
        elif depth_square:
            continue
        elif char == "(":
            depth_round += 1
        elif char == ")":
            depth_round -= 1
            if depth_round < 0:
                raise QueryError(f"unbalanced ')' at {pos}: {_clip(text)!r}")
        elif char == separator and depth_round == 0:
            parts.append(text[start:pos])
            start = pos + 1
    if quoted:
        raise QueryError(f"unterminated quote in {_clip(text)!r}")
    if depth_square:
        raise QueryError(f"unbalanced '[' in {_clip(text)!r}")
    if depth_round:
        raise QueryError(f"unbalanced '(' in {_clip(text)!r}")
    parts.append(text[start:])
    if any(not p for p in parts):
        raise QueryError(f"empty item between commas in {_clip(text)!r}")
    return parts


def _split_head(text: str, what: str) -> tuple[str, list[str]]:
    """``Name[g1][g2]`` → ('Name', ['g1', 'g2']); the name may be empty (a bare filter item)."""
    match = _NAME.match(text)
    name = match.group(0) if match else ""
    return name, _bracket_groups(text[len(name):], f"{what}{name}")


def _bracket_groups(text: str, context: str) -> list[str]:
    """The contents of consecutive ``[...]`` groups making up all of ``text``."""
    groups: list[str] = []
    pos = 0
    while pos < len(text):
        if text[pos] != "[":
            raise QueryError(f"unexpected {text[pos:pos + 20]!r} after {_clip(context)!r}; "
                             "expected a [...] filter")
        end = _closing_bracket(text, pos)
        groups.append(text[pos + 1:end])
        pos = end + 1
    return groups


def _closing_bracket(text: str, start: int) -> int:
    quoted = False
    for pos in range(start + 1, len(text)):
        char = text[pos]
        if char == "'":
            quoted = not quoted
        elif char == "]" and not quoted:
            return pos
    raise QueryError(f"unbalanced '[' in {_clip(text)!r}")


def _parse_items(text: str, spec: AllenModel) -> tuple[list[Filter], list[PathNode]]:
    """One top-level item of a criteria/include stage: bracket filters or an association path."""
    if text.startswith("["):
        return list(_parse_filters(_bracket_groups(text, spec.name), spec)), []
    return [], [_parse_path(text, spec)]


def _parse_path(text: str, spec: AllenModel) -> PathNode:
    name_match = _NAME.match(text)
    if not name_match:
        raise QueryError(f"expected an association name of {spec.name}, got {_clip(text)!r}")
    name = name_match.group(0)
    association = spec.associations.get(name)
    if association is None:
        known = ", ".join(sorted(spec.associations)) or "none"
        raise QueryError(f"{spec.name} has no association {name!r} (known: {known})")
    target = API_MODELS[association.target]
    rest = text[len(name):]
    groups: list[str] = []
    children: list[PathNode] = []
    child_filters: list[Filter] = []
    seen_parens = False
    while rest:
        if rest.startswith("["):
            end = _closing_bracket(rest, 0)
            groups.append(rest[1:end])
            rest = rest[end + 1:]
        elif rest.startswith("(") and not seen_parens:
            seen_parens = True
            end = _closing_paren(rest)
            for item in _split_top_level(rest[1:end]):
                filters, nodes = _parse_items(item, target)
                child_filters.extend(filters)
                children.extend(nodes)
            rest = rest[end + 1:]
        else:
            raise QueryError(f"unexpected {rest[:20]!r} after association {name!r}")
    return PathNode(name, target.name, (*_parse_filters(groups, target), *child_filters),
                    tuple(children))


def _closing_paren(text: str) -> int:
    depth = 0
    in_bracket = quoted = False
    for pos, char in enumerate(text):
        if char == "'" and in_bracket:
            quoted = not quoted
        elif quoted:
            continue
        elif char == "[":
            in_bracket = True
        elif char == "]":
            in_bracket = False
        elif in_bracket:
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return pos
    raise QueryError(f"unbalanced '(' in {_clip(text)!r}")


def _parse_filters(groups: list[str], spec: AllenModel) -> list[Filter]:
    return [_parse_filter(group, spec) for group in groups]


def _parse_filter(group: str, spec: AllenModel) -> Filter:
    lhs, dollar, rest = group.partition("$")
    table, attribute = _attribute(lhs, spec)
    if not dollar:
        return Filter(attribute, "$exists", (), table)
    op = next((o for o in _NO_VALUE_OPERATORS + _VALUE_OPERATORS if rest.startswith(o)), None)
    if op is None:
        raise QueryError(f"unknown operator in [{_clip(group)}]; use one of "
                         + ", ".join("$" + o for o in _VALUE_OPERATORS + _NO_VALUE_OPERATORS))
    text = rest[len(op):]
    if op in _NO_VALUE_OPERATORS:
        if text:
            raise QueryError(f"${op} takes no value: [{_clip(group)}]")
        return Filter(attribute, cast(Operator, "$" + op), (), table)
    if op == "in":
        values = tuple(_value(part, group) for part in _split_values(text))
    else:
        values = (_value(text, group),)
    return Filter(attribute, cast(Operator, "$" + op), values, table)


def _attribute(lhs: str, spec: AllenModel) -> tuple[str | None, str]:
    match = _ATTRIBUTE.fullmatch(lhs)
    if not match:
        raise QueryError(f"{_clip(lhs)!r} is not an attribute name of {spec.name}")
    table, attribute = match.groups()
    if table is not None and not _names_model_or_association(table, spec):
        raise QueryError(f"{table!r} in {lhs!r} is neither {spec.name} nor one of its associations")
    return table, attribute


def _names_model_or_association(table: str, spec: AllenModel) -> bool:
    if table in table_names(spec.name) or table in spec.associations:
        return True
    return any(table in table_names(a.target) for a in spec.associations.values())


def _split_values(text: str) -> list[str]:
    parts: list[str] = []
    quoted = False
    start = 0
    for pos, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif char == "," and not quoted:
            parts.append(text[start:pos])
            start = pos + 1
    parts.append(text[start:])
    return parts


def _value(text: str, group: str) -> Value:
    if len(text) >= 2 and text[0] == "'" and text[-1] == "'" and "'" not in text[1:-1]:
        return Value(text[1:-1], quoted=True)
    if not text:
        raise QueryError(f"missing value in [{_clip(group)}]")
    if "'" in text:
        raise QueryError(f"stray quote in value {_clip(text)!r} of [{_clip(group)}]")
    if " " in text:
        raise QueryError(f"spaces are allowed only inside quotes: [{_clip(group)}]")
    return Value(text)


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == "'" else text


def _parse_options(text: str) -> Options:
    values: dict[str, str] = {}
    for group in _bracket_groups(text, "rma::options"):
        name, dollar, rest = group.partition("$")
        if not dollar or not rest.startswith("eq"):
            raise QueryError(f"an option is written [name$eqvalue], got [{_clip(group)}]")
        if name not in _OPTION_NAMES:
            raise QueryError(f"unknown option {name!r}; known: {', '.join(_OPTION_NAMES)}")
        values[name] = rest[2:]
    options = Options()
    if "num_rows" in values:
        raw = _unquote(values["num_rows"])
        num_rows = None if raw.lower() == "all" else _non_negative(raw, "num_rows")
        options = replace(options, num_rows=num_rows)
    if "start_row" in values:
        options = replace(options, start_row=_non_negative(_unquote(values["start_row"]),
                                                            "start_row"))
    if "order" in values:
        options = replace(options, order=tuple(_order_key(i) for i in _list(values["order"])))
    if "count" in values:
        options = replace(options, count=_flag(values["count"], "count"))
    if "only" in values:
        options = replace(options, only=tuple(_qualified(i) for i in _list(values["only"])))
    if "except" in values:
        options = replace(options, except_=tuple(_qualified(i) for i in _list(values["except"])))
    if "tabular" in values:
        options = replace(options,
                          tabular=tuple(_tabular(i) for i in _list(values["tabular"])))
    if "debug" in values:
        raw = _unquote(values["debug"])
        debug: bool | Literal["preview"] = "preview" if raw == "preview" else _flag(raw, "debug")
        options = replace(options, debug=debug)
    return options


_OPTION_NAMES = ("only", "except", "tabular", "num_rows", "start_row", "order", "debug", "count")


def _non_negative(raw: str, name: str) -> int:
    if not _INT.fullmatch(raw) or int(raw) < 0:
        also = " or all" if name == "num_rows" else ""
        raise QueryError(f"{name} must be a non-negative integer{also}, got {_clip(raw)!r}")
    return int(raw)


def _flag(raw: str, name: str) -> bool:
    text = _unquote(raw).lower()
    if text not in ("true", "false"):
        raise QueryError(f"{name} must be true or false, got {_clip(raw)!r}")
    return text == "true"


def _list(raw: str) -> list[str]:
    """A comma list whose items, or the whole list, may be single-quoted."""
    items = [
        item.strip()
        for part in _split_values(raw)
        for item in _unquote(part.strip()).split(",")
    ]
    if any("'" in item for item in items):
        raise QueryError(f"stray quote in option list {_clip(raw)!r}")
    return [item for item in items if item]


def _order_key(item: str) -> OrderKey:
    match = _ORDER_ITEM.fullmatch(item)
    if not match:
        raise QueryError(f"order takes attr, table.attr, attr+desc or attr$asc, got {item!r}")
    table, attribute, direction = match.groups()
    return OrderKey(attribute, (direction or "asc").lower() == "desc", table)


def _qualified(item: str) -> QualifiedName:
    table, _, name = item.rpartition(".")
    return QualifiedName(name, table or None)


def _tabular(item: str) -> TabularColumn:
    match = _TABULAR_ITEM.fullmatch(item)
    if not match:
        raise QueryError(f"tabular takes attr, table.attr or attr+as+alias, got {item!r}")
    table, attribute, alias = match.groups()
    return TabularColumn(attribute, alias or attribute, table)


__all__ = [
    "DEFAULT_NUM_ROWS",
    "MAX_QUERY_LENGTH",
    "Filter",
    "Operator",
    "Options",
    "OrderKey",
    "PathNode",
    "QualifiedName",
    "RmaQuery",
    "TabularColumn",
    "Value",
    "parse_query",
    "table_names",
]

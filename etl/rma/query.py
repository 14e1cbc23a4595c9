"""RMA query strings, built the way AllenSDK's ``RmaApi`` builds them (pure, no I/O).

A model stage is ``model::X`` followed by optional ``,rma::criteria,...``, ``,rma::include,...``
and ``,rma::options[...]``. Options are emitted in AllenSDK's order (only, except, tabular,
num_rows, start_row, order, debug, count), so a query built here is byte-for-byte the query the
SDK sends, and a replica or a cache keyed on query text treats both alike.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from ctmirror.errors import QueryError

Scalar = bool | int | float | str
Operator = Literal["$eq", "$ne", "$gt", "$lt", "$ge", "$le", "$in", "$li", "$il"]
Format = Literal["json", "xml", "csv"]

OPERATORS: frozenset[str] = frozenset(
    ("$eq", "$ne", "$gt", "$lt", "$ge", "$le", "$in", "$li", "$il")
)
FORMATS: frozenset[str] = frozenset(("json", "xml", "csv"))

# What AllenSDK leaves unencoded (``requests.utils.quote(url, ';/?:@&=+$,')``): '[' ']' "'"
# and spaces are escaped, while '$', ',' and '+' (the order separator) stay literal.
URL_SAFE = ";/?:@&=+$,"

_ATTRIBUTE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")


def format_value(value: Scalar) -> str:
    """One filter value: strings in single quotes, numbers bare, booleans as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise QueryError(f"filter value {value!r} has no RMA form; use a finite number")
        return repr(value)
    if isinstance(value, str):
        # RMA has no escape for a quote inside a quoted string.
        if "'" in value:
            raise QueryError(f"filter value {value!r} has a single quote, which RMA cannot quote")
        return f"'{value}'"
    raise QueryError(f"filter value {value!r} is not a string, number or boolean")


def filter_clause(attribute: str, op: str, value: Scalar | Iterable[Scalar]) -> str:
    """``[attribute$op value]``; ``$in`` takes an iterable and joins its values with commas."""
    if not _ATTRIBUTE.fullmatch(attribute):
        raise QueryError(f"{attribute!r} is not an attribute name (letters, digits, _ and one '.')")
    if op not in OPERATORS:
        raise QueryError(f"unknown RMA operator {op!r}; use one of {', '.join(sorted(OPERATORS))}")
    if op == "$in":
        if isinstance(value, str | bytes) or not isinstance(value, Iterable):
            raise QueryError(f"$in on {attribute!r} needs a list of values, got {value!r}")
        values = [format_value(v) for v in value]
        if not values:
            raise QueryError(f"$in on {attribute!r} needs at least one value")
        return f"[{attribute}{op}{','.join(values)}]"
    if not isinstance(value, bool | int | float | str):
        raise QueryError(f"{op} on {attribute!r} takes one value; use $in for a list")
    return f"[{attribute}{op}{format_value(value)}]"


def eq(attribute: str, value: Scalar) -> str:
    return filter_clause(attribute, "$eq", value)


def in_(attribute: str, values: Iterable[Scalar]) -> str:
    return filter_clause(attribute, "$in", values)


def _attribute_list(name: str, attributes: Sequence[str]) -> str:
    if isinstance(attributes, str):
        # AllenSDK's join over a bare string gives 'except$eqt,a,g,s'; refuse that mistake.
        raise QueryError(f"{name} takes a list of attribute names, not the string {attributes!r}")
    return f"[{name}$eq{','.join(attributes)}]"


def options_clause(
    *,
    only: Sequence[str] | None = None,
    except_: Sequence[str] | None = None,
    tabular: Sequence[str] | None = None,
    num_rows: int | Literal["all"] | None = None,
    start_row: int | None = None,
    order: Sequence[str] | None = None,
    debug: bool | Literal["preview"] | None = None,
    count: bool | None = None,
) -> str:
    """``rma::options[...]`` in AllenSDK's option order, or '' when no option is given."""
    params: list[str] = []
    if only is not None:
        params.append(_attribute_list("only", only))
    if except_ is not None:
        params.append(_attribute_list("except", except_))
    if tabular is not None:
        params.append(_attribute_list("tabular", tabular))
    if num_rows is not None:
        if num_rows == "all":
            params.append("[num_rows$eq'all']")
        elif isinstance(num_rows, int) and not isinstance(num_rows, bool) and num_rows > 0:
            params.append(f"[num_rows$eq{num_rows}]")
        else:
            raise QueryError(f"num_rows must be a positive int or 'all', got {num_rows!r}")
    if start_row is not None:
        if isinstance(start_row, bool) or not isinstance(start_row, int) or start_row < 0:
            raise QueryError(f"start_row must be a non-negative int, got {start_row!r}")
        params.append(f"[start_row$eq{start_row}]")
    if order is not None:
        if isinstance(order, str):
            raise QueryError(f"order takes a list of attributes, not the string {order!r}")
        params.append(f"[order$eq{','.join(order)}]")
    if debug is not None:
        params.append("[debug$eq'preview']" if debug == "preview" else f"[debug$eq{_bool(debug)}]")
    if count is not None:
        params.append(f"[count$eq{_bool(count)}]")
    return "rma::options" + "".join(params) if params else ""


def _bool(flag: bool) -> str:
    return "true" if flag else "false"


def model_stage(
    model: str,
    *,
    filters: Mapping[str, Scalar] | None = None,
    criteria: str | Sequence[str] | None = None,
    include: str | Sequence[str] | None = None,
    only: Sequence[str] | None = None,
    except_: Sequence[str] | None = None,
    tabular: Sequence[str] | None = None,
    num_rows: int | Literal["all"] | None = None,
    start_row: int | None = None,
    order: Sequence[str] | None = None,
    debug: bool | Literal["preview"] | None = None,
    count: bool | None = None,
) -> str:
    """One ``model::`` stage. ``filters`` follow the model name directly (``[k$eqv]``, values as
    given, as AllenSDK writes them); ``criteria`` and ``include`` are paths, a sequence of paths
    being joined with commas."""
    if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", model):
        raise QueryError(f"{model!r} is not an RMA model name (CamelCase, e.g. 'Specimen')")
    parts = [f"model::{model}"]
    if filters:
        parts.extend(f"[{key}$eq{value}]" for key, value in filters.items())
    if criteria:
        parts.append(",rma::criteria," + _paths(criteria))
    if include:
        parts.append(",rma::include," + _paths(include))
    options = options_clause(
        only=only, except_=except_, tabular=tabular, num_rows=num_rows, start_row=start_row,
        order=order, debug=debug, count=count,
    )
    if options:
        parts.append("," + options)
    return "".join(parts)


def _paths(paths: str | Sequence[str]) -> str:
    return paths if isinstance(paths, str) else ",".join(paths)


def query_path(q: str, fmt: Format = "json") -> str:
    """The percent-encoded request path of a query, relative to the API root."""
    if fmt not in FORMATS:
        raise QueryError(f"unknown response format {fmt!r}; use json, xml or csv")
    return urllib.parse.quote(f"/api/v2/data/query.{fmt}?q={q}", safe=URL_SAFE)


def query_url(base_url: str, q: str, fmt: Format = "json") -> str:
    """The full request URL, percent-encoded as AllenSDK encodes it (``[`` → ``%5B``,
    ``'`` → ``%27``, ``+`` literal)."""
    return urllib.parse.quote(base_url.rstrip("/"), safe=URL_SAFE) + query_path(q, fmt)


__all__ = [
    "FORMATS",
    "OPERATORS",
    "URL_SAFE",
    "Format",
    "Operator",
    "Scalar",
    "eq",
    "filter_clause",
    "format_value",
    "in_",
    "model_stage",
    "options_clause",
    "query_path",
    "query_url",
]

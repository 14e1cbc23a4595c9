"""Render SQL results for the terminal: a table that fits its width, CSV, a JSON array or JSON
lines.

The table is for reading, the other formats for data. Like the DuckDB command line, the table
never draws more than the terminal holds: an array is summarised by its length and element type
(``[1,500,000 × float32]``), a long text is cut with ``…``, and when the columns are still too
wide, a result of a few rows is shown vertically (one ``column  value`` line each, the NULL
columns named on one line) and a longer one drops middle columns, naming them in a note. At
most ``max_rows`` rows are shown, with a note of how many more there are.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
import shutil
import sys
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, TextIO


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    jsonl = "jsonl"


#: How many rows the table shows unless told otherwise.
DEFAULT_MAX_ROWS = 40
#: The widest a table cell is drawn, in characters.
MAX_CELL = 40
#: Arrays this long or shorter are drawn in full (when they fit a cell).
SHORT_ARRAY = 8
#: Results of this many rows or fewer are drawn vertically when their columns do not fit.
VERTICAL_ROWS = 3

#: Element types as numpy names them (DuckDB's names otherwise, lower case).
_ELEMENT_TYPES = {"FLOAT": "float32", "REAL": "float32", "DOUBLE": "float64",
                  "DOUBLE PRECISION": "float64", "BIGINT": "int64", "INTEGER": "int32",
                  "SMALLINT": "int16", "TINYINT": "int8", "UBIGINT": "uint64",
                  "UINTEGER": "uint32", "USMALLINT": "uint16", "UTINYINT": "uint8",
                  "BOOLEAN": "bool", "VARCHAR": "str", "FLOAT4": "float32", "FLOAT8": "float64",
                  "INT8": "int64", "INT4": "int32", "INT2": "int16", "TEXT": "str"}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def write_rows(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: OutputFormat,
    out: TextIO | None = None, *, types: Sequence[str] | None = None,
    max_rows: int = DEFAULT_MAX_ROWS, more_rows: int = 0, width: int | None = None,
    wrap_last: bool = False,
) -> None:
    """Write ``rows`` in ``fmt``. The table shows the first ``max_rows`` of them, within
    ``width`` characters (the terminal's by default); ``more_rows`` are rows of the result that
    were counted but not fetched. ``types`` are the columns' SQL types (for array summaries).
    ``wrap_last`` wraps the last column's text (a description) instead of cutting it."""
    out = out or sys.stdout
    if fmt is OutputFormat.csv:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
    elif fmt is OutputFormat.jsonl:
        for row in rows:
            out.write(_json_object(columns, row))
            out.write("\n")
    elif fmt is OutputFormat.json:
        out.write("[")
        for number, row in enumerate(rows):
            out.write(",\n " if number else "")
            out.write(_json_object(columns, row))
        out.write("]\n")
    else:
        width = width or shutil.get_terminal_size((100, 24)).columns
        shown = rows[:max_rows]
        hidden = len(rows) - len(shown) + more_rows
        out.write(render_table(columns, shown, types=types, width=width, wrap_last=wrap_last))
        total = len(shown) + hidden
        note = f"{total:,} row{'' if total == 1 else 's'}"
        if hidden:
            note += (f", {len(shown):,} shown ({hidden:,} more: --max-rows to show more, "
                     "--format csv or json for all)")
        out.write(_wrap(note, width))


def _json_object(columns: Sequence[str], row: Sequence[Any]) -> str:
    return json.dumps({c: _jsonable(v) for c, v in zip(columns, row, strict=True)},
                      default=str)


def render_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], *,
                 types: Sequence[str] | None = None, width: int = 100,
                 wrap_last: bool = False) -> str:
    """``rows`` as text lines no wider than ``width`` (see the module's description)."""
    types = list(types) if types is not None else [""] * len(columns)
    if wrap_last and len(columns) > 1:
        text = _wrapped_last(columns, rows, types, width)
        if text is not None:
            return text
    cells = [[cell_text(value, kind) for value, kind in zip(row, types, strict=True)]
             for row in rows]
    numeric = [bool(rows) and all(isinstance(row[i], int | float | decimal.Decimal)
                                  or row[i] is None for row in rows)
               for i in range(len(columns))]
    widths = [max([len(name), *(len(row[i]) for row in cells)]) for i, name in
              enumerate(columns)]
    if _table_width(widths) <= width:
        return _horizontal(list(columns), cells, widths, numeric)
    if len(rows) <= VERTICAL_ROWS:
        return _vertical(columns, cells, rows, width)
    keep = _columns_that_fit(widths, width)
    dropped = [name for i, name in enumerate(columns) if i not in keep]
    text = _horizontal([columns[i] for i in keep], [[row[i] for i in keep] for row in cells],
                       [widths[i] for i in keep], [numeric[i] for i in keep])
    return text + _wrap(f"{len(dropped)} column{'s' if len(dropped) != 1 else ''} not shown "
                        f"(too wide for {width} characters; select fewer, or --format csv): "
                        + ", ".join(dropped), width)


def cell_text(value: Any, sql_type: str = "") -> str:
    """One value as a table cell: arrays summarised, long text cut, NULL empty."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        text = "[" + ", ".join(cell_text(v, _element(sql_type)) for v in value) + "]"
        if len(value) <= SHORT_ARRAY and len(text) <= MAX_CELL:
            return text
        return f"[{len(value):,} × {_element_name(value, sql_type)}]"
    if isinstance(value, dict):
        text = json.dumps(value, default=str)
    elif isinstance(value, float):
        text = f"{value:.6g}"
    else:
        text = str(_jsonable(value))
    text = " ".join(text.split()) if "\n" in text or "\t" in text else text
    return text if len(text) <= MAX_CELL else text[:MAX_CELL - 1] + "…"


def _element(sql_type: str) -> str:
    return sql_type[:-2] if sql_type.endswith("[]") else ""


def _element_name(value: Sequence[Any], sql_type: str) -> str:
    element = _element(sql_type).upper()
    if element:
        return _ELEMENT_TYPES.get(element, element.lower())
    kinds = {type(v).__name__ for v in value if v is not None}
    return kinds.pop() if len(kinds) == 1 else "values"


def _table_width(widths: Sequence[int]) -> int:
    return sum(widths) + 2 * max(len(widths) - 1, 0)


def _columns_that_fit(widths: Sequence[int], width: int) -> list[int]:
    """The first columns, then the last ones, as many as fit with a ``…`` column between."""
    keep: list[int] = []
    left, right = 0, len(widths) - 1
    used = 3  # the "…" column and its gap
    while left <= right:
        index = left if len(keep) % 2 == 0 or right < left else right
        if used + widths[index] + 2 > width and keep:
            break
        used += widths[index] + 2
        keep.append(index)
        if index == left:
            left += 1
        else:
            right -= 1
    return sorted(keep)


def _horizontal(columns: list[str], cells: list[list[str]], widths: list[int],
                numeric: list[bool]) -> str:
    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if right else v.ljust(w)
                         for v, w, right in zip(values, widths, numeric, strict=True)).rstrip()

    lines = [line(columns), "  ".join("─" * w for w in widths)]
    lines += [line(row) for row in cells]
    return "\n".join(lines) + "\n"


def _wrapped_last(columns: Sequence[str], rows: Sequence[Sequence[Any]], types: list[str],
                  width: int) -> str | None:
    """The table with its last column's text wrapped to the width left by the others (None
    when fewer than 20 characters are left)."""
    import textwrap

    cells = [[cell_text(value, kind) for value, kind in zip(row[:-1], types, strict=False)]
             for row in rows]
    widths = [max([len(name), *(len(row[i]) for row in cells)])
              for i, name in enumerate(columns[:-1])]
    last = width - _table_width(widths) - 2
    if last < 20:
        return None
    lines = ["  ".join([*(n.ljust(w) for n, w in zip(columns, widths, strict=False)),
                        columns[-1]]),
             "  ".join("─" * w for w in [*widths, last])]
    indent = " " * (_table_width(widths) + 2)
    for row, values in zip(cells, rows, strict=True):
        head = "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True))
        text = "" if values[-1] is None else str(values[-1])
        wrapped = textwrap.wrap(text, width=last, break_on_hyphens=False) or [""]
        lines.append(f"{head}  {wrapped[0]}".rstrip())
        lines += [indent + more for more in wrapped[1:]]
    return "\n".join(lines) + "\n"


def _vertical(columns: Sequence[str], cells: list[list[str]], rows: Sequence[Sequence[Any]],
              width: int) -> str:
    name_width = min(max(len(c) for c in columns), 32)
    parts: list[str] = []
    for number, (row, values) in enumerate(zip(cells, rows, strict=True), start=1):
        parts.append(f"── row {number} " + "─" * max(width - 10 - len(str(number)), 0))
        nulls = [c for c, v in zip(columns, values, strict=True) if v is None]
        for column, text, value in zip(columns, row, values, strict=True):
            if value is not None:
                parts.append(f"{column.ljust(name_width)}  {text}"[:width])
        if nulls:
            parts.append(_wrap(f"NULL: {', '.join(nulls)}", width).rstrip("\n"))
    return "\n".join(parts) + "\n"


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width=max(width, 20), break_on_hyphens=False)) + "\n"


__all__ = ["DEFAULT_MAX_ROWS", "OutputFormat", "cell_text", "render_table", "write_rows"]

"""Render SQL results for the terminal: a rich table, CSV or JSON lines."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
import sys
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, TextIO


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


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
    out: TextIO | None = None, *, max_table_rows: int = 200,
) -> None:
    out = out or sys.stdout
    if fmt is OutputFormat.csv:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
    elif fmt is OutputFormat.json:
        for row in rows:
            out.write(json.dumps({c: _jsonable(v) for c, v in zip(columns, row, strict=True)},
                                 default=str))
            out.write("\n")
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(show_lines=False, header_style="bold")
        for col in columns:
            table.add_column(col, overflow="fold")
        for row in rows[:max_table_rows]:
            table.add_row(*("" if v is None else str(_jsonable(v)) for v in row))
        console = Console(file=out)
        console.print(table)
        extra = len(rows) - max_table_rows
        tail = f" (first {max_table_rows} shown; use --format csv for all)" if extra > 0 else ""
        console.print(f"{len(rows)} row{'s' if len(rows) != 1 else ''}{tail}")

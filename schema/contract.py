"""The contract a raw API record must meet to be loaded, one per mirrored model (pure).

Derived from the model's table and nothing else: the primary key is an integer in the BIGINT
range; every value of a typed column is absent, null, or coercible to the column's type (a value
that would silently become NULL breaks the contract instead); every string is valid Unicode
without NUL (PostgreSQL stores neither a lone surrogate nor U+0000 in text or JSON, and DuckDB
must not accept what PostgreSQL refuses); every integer anywhere in the record fits 64 bits (the
``raw`` JSON column and the content hash need it). A record that breaks the contract is
quarantined by the load, never loaded and never counted as removed (``dlt``'s ``discard_row``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy import Table

from ctmirror.schema.records import attribute_columns, primary_key_column, row_typer

BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1


class Contract:
    """What a record of ``table`` must look like to be loaded; built once per table because a
    load checks every record."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.key = primary_key_column(table).name
        self._columns = [(column.name, type(column.type).__name__.upper())
                         for column in attribute_columns(table)]
        self._typed_row = row_typer(table)

    def check(self, record: Mapping[str, Any]) -> tuple[tuple[Any, ...] | None, str | None]:
        """``(typed row, None)`` for a record that meets the contract (the values of
        ``attribute_columns(table)``), else ``(None, why it breaks it, in one line)``."""
        record_id = record.get(self.key)
        if isinstance(record_id, bool) or not isinstance(record_id, int):
            return None, f"{self.key} {_show(record_id)} is not an integer"
        if not BIGINT_MIN <= record_id <= BIGINT_MAX:
            return None, f"{self.key} {record_id} is out of the BIGINT range"
        if not _storable_fast(record):
            problem = _value_problem(record, path="")
            if problem is not None:
                return None, problem
        row = self._typed_row(record)
        if None not in row:
            return row, None
        for (name, type_name), typed in zip(self._columns, row, strict=True):
            if typed is None and record.get(name) is not None:
                return None, f"{name} {_show(record[name])} is not a valid {type_name}"
        return row, None


def _storable_fast(record: Mapping[str, Any]) -> bool:
    """True when every string and number of ``record`` is storable, checked in one pass by the
    JSON encoder (it refuses lone surrogates and integers past 64 bits, and spells NUL as an
    escape); False means ``_value_problem`` must find out what is wrong."""
    try:
        encoded = orjson.dumps(record)
    except orjson.JSONEncodeError:
        return False
    return b"\\u0000" not in encoded


def _value_problem(value: Any, *, path: str) -> str | None:
    """The first string, number or key in ``value`` that no backend can store, if any."""
    if isinstance(value, str):
        return _text_problem(value, path)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        if not BIGINT_MIN <= value <= BIGINT_MAX:
            return f"{path or 'a value'} {value} is out of the 64-bit integer range"
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{path or 'a value'} is not a finite number"
    if isinstance(value, Mapping):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            problem = _text_problem(str(key), f"the key {where!r}") or _value_problem(
                item, path=where)
            if problem is not None:
                return problem
        return None
    if isinstance(value, list):
        for index, item in enumerate(value):
            problem = _value_problem(item, path=f"{path}[{index}]")
            if problem is not None:
                return problem
        return None
    return f"{path or 'a value'} has the unexpected type {type(value).__name__}"


def _text_problem(text: str, where: str) -> str | None:
    if "\x00" in text:
        return f"{where or 'a string'} holds a NUL character, which PostgreSQL cannot store"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return f"{where or 'a string'} is not valid Unicode (a lone surrogate)"
    return None


def _show(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = ["BIGINT_MAX", "BIGINT_MIN", "Contract"]

"""Raw API records -> typed column values of a mirrored model's table (pure).

Which table a model has is ``ctmirror.schema.allen_model``'s to say.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, Double, Table, Text

from ctmirror.schema.base import BOOKKEEPING_COLUMNS


def primary_key_column(table: Table) -> Column[Any]:
    """The single Allen id column that keys ``table``."""
    (column,) = table.primary_key.columns
    return column


def attribute_columns(table: Table) -> list[Column[Any]]:
    """The typed Allen attribute columns of a mirrored table, primary key first."""
    return [c for c in table.columns if c.name not in BOOKKEEPING_COLUMNS]


def typed_values(table: Table, record: Mapping[str, Any]) -> dict[str, Any]:
    """The value of every typed column of ``table`` for one raw API ``record``.

    Missing attributes become None; values are coerced to the column type (Allen sends ids as
    numbers or numeric strings, floats with integral values, booleans as true/"true"). A value
    that cannot be coerced becomes None here and survives in ``raw``. Keys without a column are
    ignored: they live only in ``raw``.
    """
    names = [column.name for column in attribute_columns(table)]
    return dict(zip(names, row_typer(table)(record), strict=True))


def row_typer(table: Table) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A function from a raw record to the tuple of ``attribute_columns(table)`` values, coerced
    as ``typed_values`` does; built once per table because loads call it per record."""
    plan = [(column.name, _coercer(column.type)) for column in attribute_columns(table)]

    def typed_row(record: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(to_type(record.get(name)) for name, to_type in plan)

    return typed_row


def coerce(column_type: object, value: Any) -> Any:
    """``value`` as the Python type that ``column_type`` stores, or None."""
    return _coercer(column_type)(value)


def _coercer(column_type: object) -> Callable[[Any], Any]:
    # Boolean before the numbers: bool is an int subclass in Python, not in SQL.
    for sql_type, to_type in (
        (Boolean, _as_bool), (BigInteger, _as_int), (Double, _as_float), (Text, _as_text),
    ):
        if isinstance(column_type, sql_type):
            return to_type
    raise TypeError(f"no coercion for column type {column_type!r}")


def _as_bool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        return {"true": True, "false": False, "t": True, "f": False}.get(value.strip().lower())
    return None


def _as_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if type(value) is int:
        return value if -(2**63) <= value < 2**63 else None
    number = _as_float(value)
    if number is None or not number.is_integer():
        return None
    return _as_int(int(number))


def _as_float(value: Any) -> float | None:
    if type(value) is float:
        number = value
    elif value is None or isinstance(value, bool):
        return None
    elif isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    # NaN and infinities are not JSON; a replica that sends them gets NULL in the typed column.
    return number if math.isfinite(number) else None


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return None


__all__ = [
    "attribute_columns",
    "coerce",
    "primary_key_column",
    "row_typer",
    "typed_values",
]

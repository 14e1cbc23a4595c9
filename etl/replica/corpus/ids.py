"""Ids for synthetic records, drawn from a range that no published Allen record uses.

Published Allen ids are below one billion; synthetic ones count up from ``SYNTHETIC_ID_BASE``
and stay below 2**31, so every id still fits a 32-bit integer column.
"""

from __future__ import annotations

from ctmirror.errors import ConfigError

SYNTHETIC_ID_BASE = 2_000_000_000
_SYNTHETIC_ID_END = 2**31 - 1

__all__ = ["SYNTHETIC_ID_BASE", "IdAllocator", "is_synthetic_id"]


def is_synthetic_id(value: int) -> bool:
    return SYNTHETIC_ID_BASE <= value <= _SYNTHETIC_ID_END


class IdAllocator:
    """Hands out consecutive synthetic ids; the order of calls fixes the ids (deterministic)."""

    def __init__(self, start: int = SYNTHETIC_ID_BASE) -> None:
        self._next = start

    def __call__(self) -> int:
        if self._next > _SYNTHETIC_ID_END:
            raise ConfigError("the synthetic id range is exhausted: build a smaller corpus")
        value = self._next
        self._next += 1
        return value

"""Ids for synthetic records, drawn from a range that no published Allen record uses.

Published Allen ids are below one billion; synthetic ones start at ``SYNTHETIC_ID_BASE`` and
stay below 2**31, so every id still fits a 32-bit integer column. The range has two parts:

- ``IdAllocator`` counts up from its start (``SYNTHETIC_ID_BASE`` unless told) for the records
  made per cell; the order of calls fixes the ids. It never reaches ``NAMED_ID_BASE``.
- ``named_id`` gives a record that is one of a small fixed set, known by its model and name (a
  product, a specimen tag, a transgenic line, ...), an id from ``NAMED_ID_BASE`` up that depends
  on nothing else: the same name has the same id in every corpus, whatever its cells.
"""

from __future__ import annotations

import hashlib

from ctmirror.errors import ConfigError

SYNTHETIC_ID_BASE = 2_000_000_000
NAMED_ID_BASE = 2_140_000_000
_SYNTHETIC_ID_END = 2**31 - 1

__all__ = ["NAMED_ID_BASE", "SYNTHETIC_ID_BASE", "IdAllocator", "is_synthetic_id", "named_id"]


def is_synthetic_id(value: int) -> bool:
    return SYNTHETIC_ID_BASE <= value <= _SYNTHETIC_ID_END


def named_id(model: str, name: str) -> int:
    """The synthetic id of the ``model`` record called ``name``: a hash of both into the named
    part of the range (about 7 million ids, so a handful of names per model never collide in
    practice; the corpus builder checks)."""
    digest = hashlib.sha256(f"{model}\x00{name}".encode()).digest()
    span = _SYNTHETIC_ID_END - NAMED_ID_BASE + 1
    return NAMED_ID_BASE + int.from_bytes(digest[:8], "big") % span


class IdAllocator:
    """Hands out consecutive synthetic ids; the order of calls fixes the ids (deterministic)."""

    def __init__(self, start: int = SYNTHETIC_ID_BASE) -> None:
        self._next = start

    def __call__(self) -> int:
        if self._next >= NAMED_ID_BASE:
            raise ConfigError("the synthetic id range is exhausted: build a smaller corpus")
        value = self._next
        self._next += 1
        return value

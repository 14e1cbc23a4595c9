"""Feature registry: pure functions registered under their published Allen column names.

A feature module decorates each function with :func:`feature`; the registry key is the column
name in the published table (``NeuronReconstruction``, ``ApiCellTypesSpecimenDetail``,
``EphysFeature``), so comparing recomputed and published values is a join on names. The names
of a level are listed once, in :mod:`ctmirror.features.names`: registering a name that is not
listed for its level, or one twice, raises, and :func:`check_complete` raises when a listed
name has no function. Where one analysis yields several columns at once (a protocol's sweeps
give all its ephys columns), :func:`feature_group` registers it under each of them. The
decorators return the function unchanged, so features stay plain callables; :func:`get` looks
one up by name and :func:`compute` calls it and turns numpy scalars into built-in numbers
(NaN into ``None``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

import numpy as np

from ctmirror.errors import ConfigError
from ctmirror.features.names import DECLARED

__all__ = [
    "Feature",
    "Level",
    "check_complete",
    "compute",
    "feature",
    "feature_group",
    "get",
    "names",
]

F = TypeVar("F", bound=Callable[..., Any])
Kind = type[int] | type[float] | type[bool]


class Level(StrEnum):
    """What a feature is computed over."""

    MORPHOLOGY = "morphology"  # one reconstruction (whole cell or one compartment)
    SPIKE = "spike"  # one action potential of a sweep
    SWEEP = "sweep"  # one ephys sweep
    CELL = "cell"  # one cell, from several sweeps


@dataclass(frozen=True)
class Feature:
    """A registered feature: its published name, level, result type and the function."""

    name: str
    level: Level
    func: Callable[..., Any]
    kind: Kind
    #: The names ``func`` computes together when it yields several columns at once; empty for
    #: a function of one feature.
    group: tuple[str, ...] = ()

    @property
    def description(self) -> str:
        """First line of the function's docstring."""
        return (self.func.__doc__ or "").strip().splitlines()[0] if self.func.__doc__ else ""


_REGISTRY: dict[str, Feature] = {}


def feature(name: str, level: Level, *, kind: Kind = float) -> Callable[[F], F]:
    """Register the decorated function as feature ``name`` at ``level``.

    ``kind`` is the built-in type :func:`compute` returns (counts are ``int``). Raises
    ``ValueError`` if ``name`` is not a published column of ``level`` or is already registered:
    two functions may not claim one column.
    """

    def register(func: F) -> F:
        _register(Feature(name=name, level=Level(level), func=func, kind=kind))
        return func

    return register


def feature_group(columns: Sequence[str], level: Level, *, kind: Kind = float
                  ) -> Callable[[F], F]:
    """Register the decorated function under each of ``columns`` at ``level``: one analysis
    that yields all these columns together (by name). Raises as :func:`feature` does."""
    group = tuple(columns)
    if len(set(group)) != len(group):
        raise ValueError(f"feature group {group} names a column twice")

    def register(func: F) -> F:
        for name in group:
            _register(Feature(name=name, level=Level(level), func=func, kind=kind, group=group))
        return func

    return register


def _register(spec: Feature) -> None:
    declared = DECLARED.get(spec.level.value)
    if declared is not None and spec.name not in declared:
        raise ValueError(f"feature {spec.name!r} is not a published {spec.level.value} column "
                         "listed in ctmirror.features.names")
    if spec.name in _REGISTRY:
        other = _REGISTRY[spec.name].func
        raise ValueError(f"feature {spec.name!r} is already registered by "
                         f"{other.__module__}.{other.__qualname__}")
    _REGISTRY[spec.name] = spec


def check_complete(level: Level) -> None:
    """Raise ``ConfigError`` unless every name listed for ``level`` has a registered function."""
    registered = set(names(level))
    missing = [n for n in DECLARED.get(Level(level).value, ()) if n not in registered]
    if missing:
        raise ConfigError(f"no {Level(level).value} feature is registered as "
                          f"{', '.join(missing)}")


def get(name: str) -> Feature:
    """The feature registered as ``name``; ``ConfigError`` listing the known names if none."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise ConfigError(f"unknown feature {name!r}; registered features: {known}") from None


def names(level: Level | None = None) -> list[str]:
    """Registered feature names (of one level, if given), in registration order."""
    return [n for n, f in _REGISTRY.items() if level is None or f.level == level]


def compute(name: str, *args: Any, **kwargs: Any) -> int | float | None:
    """Call feature ``name`` and return a built-in number, ``None`` where it is undefined.
    A feature of a group is computed with the others by its function, not alone."""
    spec = get(name)
    if spec.group:
        raise ConfigError(f"feature {name!r} is computed together with {len(spec.group) - 1} "
                          f"others by {spec.func.__module__}.{spec.func.__qualname__}")
    value = spec.func(*args, **kwargs)
    return to_builtin(value, spec.kind)


def to_builtin(value: Any, kind: Kind) -> int | float | None:
    """A numpy or Python number as ``kind``; NaN and ``None`` become ``None``."""
    if value is None:
        return None
    number = float(np.asarray(value).item())
    if math.isnan(number):
        return None
    if kind is bool:
        return bool(number)
    return int(number) if kind is int else number

"""Feature registry: pure functions registered under their published Allen column names.

A feature module decorates each function with :func:`feature`; the registry key is the column
name in the published table (``NeuronReconstruction``, ``ApiCellTypesSpecimenDetail``,
``EphysFeature``), so comparing recomputed and published values is a join on names. Names are
unique across all levels: registering one twice raises. The decorator returns the function
unchanged, so features stay plain callables; :func:`get` looks one up by name and
:func:`compute` calls it and turns numpy scalars into built-in numbers (NaN into ``None``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

import numpy as np

from ctmirror.errors import ConfigError

__all__ = [
    "Feature",
    "Level",
    "compute",
    "feature",
    "get",
    "names",
]

F = TypeVar("F", bound=Callable[..., Any])


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
    kind: type[int] | type[float]

    @property
    def description(self) -> str:
        """First line of the function's docstring."""
        return (self.func.__doc__ or "").strip().splitlines()[0] if self.func.__doc__ else ""


_REGISTRY: dict[str, Feature] = {}


def feature(name: str, level: Level, *, kind: type[int] | type[float] = float) -> Callable[[F], F]:
    """Register the decorated function as feature ``name`` at ``level``.

    ``kind`` is the built-in type :func:`compute` returns (counts are ``int``). Raises
    ``ValueError`` if ``name`` is already registered: two functions may not claim one column.
    """

    def register(func: F) -> F:
        if name in _REGISTRY:
            other = _REGISTRY[name].func
            raise ValueError(
                f"feature {name!r} is already registered by {other.__module__}.{other.__qualname__}"
            )
        _REGISTRY[name] = Feature(name=name, level=Level(level), func=func, kind=kind)
        return func

    return register


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
    """Call feature ``name`` and return a built-in number, ``None`` where it is undefined."""
    spec = get(name)
    value = spec.func(*args, **kwargs)
    return to_builtin(value, spec.kind)


def to_builtin(value: Any, kind: type[int] | type[float]) -> int | float | None:
    """A numpy or Python number as ``kind``; NaN and ``None`` become ``None``."""
    if value is None:
        return None
    number = float(np.asarray(value).item())
    if math.isnan(number):
        return None
    return int(number) if kind is int else number

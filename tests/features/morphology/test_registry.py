"""The feature registry: registration, lookup, duplicates, conversion to built-in numbers."""

from __future__ import annotations

import numpy as np
import pytest

from ctmirror.errors import ConfigError
from ctmirror.features import registry
from ctmirror.features.morphology import CELL_LIST_COLUMNS, RECONSTRUCTION_COLUMNS
from ctmirror.features.registry import Level, compute, feature, get, names


def test_every_published_column_is_registered_once() -> None:
    morphology = names(Level.MORPHOLOGY)
    assert sorted(morphology) == sorted([*RECONSTRUCTION_COLUMNS, *CELL_LIST_COLUMNS])
    assert len(RECONSTRUCTION_COLUMNS) == 22 and len(CELL_LIST_COLUMNS) == 5
    assert get("number_tips").kind is int and get("total_length").kind is float


def test_duplicate_name_raises() -> None:
    with pytest.raises(ValueError, match="'total_length' is already registered"):
        feature("total_length", Level.MORPHOLOGY)(lambda tree: 0.0)


def test_unknown_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown feature 'no_such_feature'"):
        get("no_such_feature")


def test_compute_returns_builtin_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_REGISTRY", {})
    feature("spike_count", Level.SWEEP, kind=int)(lambda v: np.int64(v.size))
    feature("mean_v", Level.SWEEP)(lambda v: np.float32(v.mean()) if v.size else np.nan)
    value = compute("spike_count", np.arange(3.0))
    assert value == 3 and type(value) is int
    assert compute("mean_v", np.empty(0)) is None
    assert names(Level.SWEEP) == ["spike_count", "mean_v"] and names(Level.MORPHOLOGY) == []


def test_recomputed_table_holds_every_feature_with_its_kind() -> None:
    from ctmirror.schema.morphology_recomputed import (
        CELL_LIST_FEATURES,
        RECONSTRUCTION_FEATURES,
        morphology_features_recomputed,
    )

    assert RECONSTRUCTION_FEATURES == RECONSTRUCTION_COLUMNS
    assert CELL_LIST_FEATURES == CELL_LIST_COLUMNS
    for name in (*RECONSTRUCTION_FEATURES, *CELL_LIST_FEATURES):
        assert morphology_features_recomputed.c[name].type.python_type is get(name).kind, name

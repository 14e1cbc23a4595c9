"""The feature registry: registration, lookup, duplicates, conversion to built-in numbers."""

from __future__ import annotations

import numpy as np
import pytest

from ctmirror.errors import ConfigError
from ctmirror.features import registry
from ctmirror.features.morphology import CELL_LIST_COLUMNS, RECONSTRUCTION_COLUMNS
from ctmirror.features.registry import (
    Level,
    check_complete,
    compute,
    feature,
    feature_group,
    get,
    names,
)


def test_every_published_column_is_registered_once() -> None:
    morphology = names(Level.MORPHOLOGY)
    assert sorted(morphology) == sorted([*RECONSTRUCTION_COLUMNS, *CELL_LIST_COLUMNS])
    assert len(RECONSTRUCTION_COLUMNS) == 22 and len(CELL_LIST_COLUMNS) == 5
    assert get("number_tips").kind is int and get("total_length").kind is float


def test_duplicate_name_raises() -> None:
    with pytest.raises(ValueError, match="'total_length' is already registered"):
        feature("total_length", Level.MORPHOLOGY)(lambda tree: 0.0)


def test_a_name_not_listed_for_its_level_raises() -> None:
    with pytest.raises(ValueError, match="'total_lenght' is not a published morphology column"):
        feature("total_lenght", Level.MORPHOLOGY)(lambda tree: 0.0)
    with pytest.raises(ValueError, match="'vrest' is not a published morphology column"):
        feature("vrest", Level.MORPHOLOGY)(lambda tree: 0.0)
    assert "total_lenght" not in names() and get("vrest").level is Level.CELL


def test_a_group_registers_each_column_and_is_computed_whole(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "_REGISTRY", {})

    def both(v: np.ndarray) -> dict[str, float]:
        return {"mean_v": float(v.mean()), "max_v": float(v.max())}

    assert feature_group(("mean_v", "max_v"), Level.SWEEP)(both) is both
    assert names(Level.SWEEP) == ["mean_v", "max_v"]
    assert get("max_v").func is both and get("max_v").group == ("mean_v", "max_v")
    with pytest.raises(ConfigError, match="'mean_v' is computed together with 1 others"):
        compute("mean_v", np.arange(3.0))
    with pytest.raises(ValueError, match="names a column twice"):
        feature_group(("a", "a"), Level.SWEEP)
    with pytest.raises(ValueError, match="'max_v' is already registered"):
        feature_group(("min_v", "max_v"), Level.SWEEP)(both)


def test_check_complete_names_the_columns_without_a_function(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    check_complete(Level.MORPHOLOGY)
    check_complete(Level.CELL)
    monkeypatch.setattr(registry, "_REGISTRY", {
        n: f for n, f in registry._REGISTRY.items() if n not in ("tau", "has_delay")})
    with pytest.raises(ConfigError, match="no cell feature is registered as tau, has_delay"):
        check_complete(Level.CELL)
    check_complete(Level.SWEEP)  # nothing is listed for it


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
    assert RECONSTRUCTION_FEATURES[:2] == ("average_bifurcation_angle_local",
                                           "average_bifurcation_angle_remote")
    assert CELL_LIST_FEATURES[-1] == "nr__average_parent_daughter_ratio"
    columns = list(morphology_features_recomputed.c.keys())
    assert columns[7:] == [*RECONSTRUCTION_FEATURES, *CELL_LIST_FEATURES]
    for name in (*RECONSTRUCTION_FEATURES, *CELL_LIST_FEATURES):
        assert morphology_features_recomputed.c[name].type.python_type is get(name).kind, name

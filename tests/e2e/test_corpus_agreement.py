"""The values a synthetic corpus computed from its own files are the values a sync recomputes
from the mirrored copies: the comparison views pair them, and the demo says they agree."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from rich.console import Console

from ctmirror.demo import Agreement, agreement, agrees, print_comparisons
from tests.conftest import duckdb_url

from .warehouse_sql import query_rows as _rows


def test_synthetic_values_are_what_the_sync_recomputes(synced_mirror: Path) -> None:
    # It only reads a mirror synced with every derived stage: the session's shared one (the
    # default settings, so the allen2016 definitions; the fixture asserts the sync's errors
    # are none).
    url = duckdb_url(synced_mirror)

    ephys = _rows(url, """
        SELECT specimen_id, feature, published, recomputed FROM ephys_features_comparison
        WHERE definitions = 'allen2016' AND (published IS NOT NULL OR recomputed IS NOT NULL)""")
    assert len({row[0] for row in ephys}) == 3 and len(ephys) >= 40
    for specimen, feature, published, recomputed in ephys:
        assert published is not None, (specimen, feature)
        assert recomputed == pytest.approx(published, rel=1e-9, abs=1e-12), (specimen, feature)

    evr = _rows(url, """SELECT neuronal_model_id, published, recomputed FROM glif_evr_comparison
                        WHERE recomputed IS NOT NULL""")
    assert len(evr) >= 2
    for model, published, recomputed in evr:
        assert abs(recomputed - published) <= 1e-6, model

    morphology = _rows(url, """
        SELECT neuron_reconstruction_id, feature, published, recomputed
        FROM morphology_features_comparison WHERE recomputed IS NOT NULL""")
    assert len(morphology) >= 100
    for reconstruction, feature, published, recomputed in morphology:
        assert recomputed == pytest.approx(published, rel=1e-9, abs=1e-12), (
            reconstruction, feature)

    console = Console(record=True, width=400)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            print_comparisons(conn, console)
    finally:
        engine.dispose()
    text = console.export_text()
    columns = len({row[1] for row in ephys})
    assert (f"ephys values ({columns} columns with values, 3 cells): "
            f"{len(ephys)} of {len(ephys)} agree within 1%") in text
    assert f"GLIF explained variance ratios: {len(evr)} of {len(evr)} agree within 1e-06" in text
    assert "✗" not in text


def test_agreement_counts_pairs_with_a_value() -> None:
    assert agrees(100.0, 100.9, relative=0.01) and not agrees(100.0, 101.1, relative=0.01)
    assert agrees(0.0, 0.0) and not agrees(0.0, 1e-6) and not agrees(None, 1.0)
    assert agrees(0.5, 0.5000009, absolute=1e-6) and not agrees(0.5, 0.500002, absolute=1e-6)
    pairs = [(1.0, 1.0), (None, None), (2.0, None), (-70.0, -70.5), (3.0, 4.0)]
    assert agreement(pairs, relative=0.01) == Agreement(agreeing=2, compared=4,
                                                        max_difference=1.0)

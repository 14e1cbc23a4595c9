"""Synthetic SWC trees: exact stems and bifurcations, scaled reach, AllenSDK-readable text."""

from __future__ import annotations

import numpy as np
import pytest

from ctmirror.replica.corpus.swc import (
    parse_swc,
    synthetic_marker,
    synthetic_tree,
    to_swc_text,
    tree_measurements,
)


@pytest.mark.parametrize(
    ("stems", "bifurcations", "axon"), [(1, 0, False), (7, 112, True), (3, 5, False), (2, 40, True)]
)
def test_tree_has_the_asked_topology_and_reach(stems: int, bifurcations: int, axon: bool) -> None:
    tree = synthetic_tree(
        np.random.default_rng(5),
        stems=stems,
        bifurcations=bifurcations,
        max_distance_um=432.5,
        axon=axon,
        soma_xyz=(300.0, 400.0, 30.0),
    )
    measured = tree_measurements(parse_swc(to_swc_text(tree)))
    assert measured["number_stems"] == stems
    assert measured["number_bifurcations"] == bifurcations
    assert measured["max_euclidean_distance"] == pytest.approx(432.5, abs=1e-3)
    assert (2 in tree.kind) == axon
    assert measured["number_tips"] == stems + bifurcations


def test_text_is_single_space_separated_with_one_soma_root() -> None:
    text = to_swc_text(
        synthetic_tree(
            np.random.default_rng(1), stems=4, bifurcations=9, max_distance_um=200.0, axon=False
        )
    )
    lines = text.splitlines()
    assert lines[0].startswith("#") and "" not in lines
    nodes = [line.split(" ") for line in lines[1:]]
    assert all(len(fields) == 7 for fields in nodes)
    assert nodes[0][1] == "1" and nodes[0][6] == "-1"
    ids = {int(n[0]) for n in nodes}
    assert all(int(n[6]) in ids for n in nodes[1:])
    assert sum(n[6] == "-1" for n in nodes) == 1


def test_marker_names_cut_dendrites_and_the_missing_axon() -> None:
    rng = np.random.default_rng(2)
    tree = synthetic_tree(rng, stems=3, bifurcations=6, max_distance_um=150.0, axon=False)
    rows = [
        line.split(",")
        for line in synthetic_marker(rng, tree, full=False).splitlines()
        if not line.startswith("#")
    ]
    codes = [int(r[5]) for r in rows]
    assert codes[-1] == 20 and set(codes[:-1]) == {10}

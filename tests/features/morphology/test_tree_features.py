"""Feature definitions on tiny trees whose values can be worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ctmirror.features.morphology import Compartment, NeuronTree, compute_morphology_features
from ctmirror.readers.swc import parse_swc

# Soma at the origin (r=2); a basal stem along +x that bifurcates at (10,0,0) into two branches
# of two links each, ending at (10,6,0) and (16,0,0); an axon stem of one node at (0,-5,0).
Y_TREE = b"""
1 1 0 0 0 2 -1
2 3 5 0 0 1 1
3 3 10 0 0 1 2
4 3 10 3 0 0.5 3
5 3 10 6 0 0.5 4
6 3 13 0 0 0.5 3
7 3 16 0 0 0.5 6
8 2 0 -5 0 0.25 1
"""


@pytest.fixture(scope="module")
def y_tree() -> NeuronTree:
    return NeuronTree.from_nodes(parse_swc(Y_TREE))


def test_counts(y_tree: NeuronTree) -> None:
    f = compute_morphology_features(y_tree)
    assert f["number_nodes"] == 8
    assert f["number_stems"] == 2
    assert f["number_bifurcations"] == 2  # node 3 and the soma with its two stems
    assert f["number_branches"] == 4  # soma->3, soma->8, 3->5, 3->7
    assert f["number_tips"] == 3
    assert f["max_branch_order"] == 2


def test_sizes(y_tree: NeuronTree) -> None:
    f = compute_morphology_features(y_tree)
    assert f["overall_width"] == 16 and f["overall_height"] == 11 and f["overall_depth"] == 0
    assert f["total_length"] == pytest.approx(5 + 5 + 3 + 3 + 3 + 3 + 5)
    assert f["average_diameter"] == pytest.approx((2 * 1 + 2 * 1 + 4 * 1 + 0.5) / 8)
    assert f["total_surface"] == pytest.approx(2 * math.pi * (1 * 10 + 0.5 * 12 + 0.25 * 5))
    assert f["total_volume"] == pytest.approx(math.pi * (10 + 0.25 * 12 + 0.0625 * 5))
    assert f["soma_surface"] == pytest.approx(4 * math.pi * 4)
    assert f["max_euclidean_distance"] == pytest.approx(16)
    assert f["max_path_distance"] == pytest.approx(16)


def test_segment_averages(y_tree: NeuronTree) -> None:
    f = compute_morphology_features(y_tree)
    assert f["average_fragmentation"] == pytest.approx((1 + 1 + 1 + 0) / 4)
    assert f["average_contraction"] == pytest.approx(1.0)  # every segment is straight
    # r(head)/r(start): 1/2, 0.25/2 from the soma; 0.5/1 twice from node 3
    assert f["average_parent_daughter_ratio"] == pytest.approx((0.5 + 0.125 + 0.5 + 0.5) / 4)


def test_bifurcation_angles(y_tree: NeuronTree) -> None:
    f = compute_morphology_features(y_tree)
    # soma: first two children (rows 2 and 8) are at +x and -y: 90 degrees, locally and remotely
    # node 3: children towards +y and +x: 90 degrees
    assert f["average_bifurcation_angle_local"] == pytest.approx(90.0)
    assert f["average_bifurcation_angle_remote"] == pytest.approx(90.0)


def test_opposite_children_count_as_zero_angle_like_vaa3d() -> None:
    # node 670 of reconstruction 397999191: children exactly opposite along x; in Vaa3D's
    # single-precision arithmetic the cosine is just below -1, so the angle adds 0
    text = b"""1 1 82.4824 100 98.84 5 -1
2 3 82.4824 124.9248 98.84 1 1
3 3 81.6816 124.9248 98.84 1 2
4 3 83.2832 124.9248 98.84 1 2
"""
    f = compute_morphology_features(parse_swc(text))
    assert f["number_bifurcations"] == 1
    assert f["average_bifurcation_angle_local"] == 0.0


def test_cell_list_values_use_the_dendrite(y_tree: NeuronTree) -> None:
    f = compute_morphology_features(y_tree)
    assert f["nr__number_stems"] == 1
    assert f["nr__number_bifurcations"] == 1  # node 3; the soma is not counted
    assert f["nr__max_euclidean_distance"] == pytest.approx(16)
    assert f["nr__average_contraction"] == pytest.approx(1.0)
    assert f["nr__average_parent_daughter_ratio"] == pytest.approx(0.5)


def test_compartments_keep_the_soma(y_tree: NeuronTree) -> None:
    axon = compute_morphology_features(y_tree, Compartment.AXON)
    assert axon["number_nodes"] == 2 and axon["number_stems"] == 1
    assert axon["total_length"] == pytest.approx(5)
    assert "nr__number_stems" not in axon
    basal = compute_morphology_features(y_tree, "basal_dendrite")
    assert basal["number_nodes"] == 7 and basal["number_bifurcations"] == 1
    apical = compute_morphology_features(y_tree, Compartment.APICAL_DENDRITE)
    assert apical["number_nodes"] == 1 and apical["total_length"] == 0
    assert apical["average_contraction"] is None  # no segment: undefined, not zero


def test_axon_leaving_a_dendrite_hangs_from_the_soma() -> None:
    text = b"1 1 0 0 0 2 -1\n2 3 5 0 0 1 1\n3 2 5 4 0 1 2\n4 2 5 8 0 1 3\n"
    axon = NeuronTree.from_nodes(parse_swc(text)).restrict(Compartment.AXON)
    np.testing.assert_array_equal(axon.parent, [-1, 0, 1])


def test_fragments_count_in_node_sums_but_not_in_tree_walks() -> None:
    text = b"1 1 0 0 0 1 -1\n2 3 4 0 0 1 1\n3 2 -10 0 0 1 -1\n4 2 -13 4 0 1 3\n"
    f = compute_morphology_features(parse_swc(text))
    assert f["number_nodes"] == 4
    assert f["total_length"] == pytest.approx(4 + 5)  # the fragment's link counts
    assert f["number_tips"] == 2  # the fragment's tip counts
    assert f["number_branches"] == 1  # only the soma tree is walked
    assert f["max_path_distance"] == pytest.approx(4)
    assert f["max_euclidean_distance"] == pytest.approx(math.hypot(13, 4))


def test_hausdorff_of_a_straight_line_is_one() -> None:
    rows = ["1 1 0 0 0 1 -1"] + [f"{i} 3 {i * 4} 0 0 1 {i - 1}" for i in range(2, 40)]
    f = compute_morphology_features(parse_swc("\n".join(rows).encode()))
    assert f["hausdorff_dimension"] == pytest.approx(1.0, abs=0.05)

"""Synthetic reconstructions as SWC and marker text (pure: numbers in, text out).

The tree matches the published summary of a cell exactly where the summary is exact:
``number_stems`` neurites leave the soma (one of them the axon for a ``full`` reconstruction) and
``number_bifurcations`` nodes branch in two. Geometry is a random walk per section, scaled so
that the farthest node lies ``max_euclidean_distance`` µm from the soma.

The text follows what AllenSDK's ``read_swc`` accepts: a ``#`` header, one node per line as
``id type x y z radius parent`` separated by single spaces, ids from 1, a single soma root
(type 1, parent -1), and no blank lines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "SwcTree",
    "parse_swc",
    "synthetic_marker",
    "synthetic_tree",
    "to_swc_text",
    "tree_measurements",
]

SOMA, AXON, BASAL_DENDRITE, APICAL_DENDRITE = 1, 2, 3, 4
_NODES_PER_SECTION = 4
_SECTION_LENGTH_UM = (15.0, 45.0)
_SOMA_RADIUS_UM = (5.0, 8.0)
# Marker codes of AllenSDK's read_marker_file.
CUT_DENDRITE, NO_RECONSTRUCTION = 10, 20


@dataclass(frozen=True)
class SwcTree:
    """Node arrays of one reconstruction; ``parent`` holds row indices (-1 for the soma)."""

    kind: NDArray[np.int64]
    xyz: NDArray[np.float64]
    radius: NDArray[np.float64]
    parent: NDArray[np.int64]

    def tips(self) -> NDArray[np.int64]:
        has_child = np.zeros(self.parent.size, dtype=bool)
        has_child[self.parent[self.parent >= 0]] = True
        return np.flatnonzero(~has_child)


def _split_bifurcations(rng: np.random.Generator, total: int, stems: int) -> NDArray[np.int64]:
    return rng.multinomial(total, np.full(stems, 1.0 / stems)).astype(np.int64)


def _unit(vector: NDArray[np.float64]) -> NDArray[np.float64]:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else np.array([0.0, 1.0, 0.0])


def synthetic_tree(
    rng: np.random.Generator,
    *,
    stems: int,
    bifurcations: int,
    max_distance_um: float,
    axon: bool,
    soma_xyz: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> SwcTree:
    """A single tree with exactly ``stems`` soma neurites and ``bifurcations`` branch points."""
    stems = max(int(stems), 1)
    bifurcations = max(int(bifurcations), 0)
    kinds: list[int] = [SOMA]
    points: list[NDArray[np.float64]] = [np.zeros(3)]
    radii: list[float] = [float(rng.uniform(*_SOMA_RADIUS_UM))]
    parents: list[int] = [-1]

    stem_kinds = [BASAL_DENDRITE] * stems
    if stems > 1:
        stem_kinds[0] = APICAL_DENDRITE
    if axon:
        stem_kinds[-1] = AXON
    # Each pending section: (parent row, heading, neurite type, bifurcations left in its subtree).
    pending: list[tuple[int, NDArray[np.float64], int, int]] = []
    for kind, count in zip(stem_kinds, _split_bifurcations(rng, bifurcations, stems), strict=True):
        heading = _unit(
            rng.normal(size=3)
            + (
                np.array([0.0, 1.5, 0.0])
                if kind == APICAL_DENDRITE
                else np.array([0.0, -1.5, 0.0])
                if kind == AXON
                else 0.0
            )
        )
        pending.append((0, heading, kind, int(count)))
    while pending:
        parent, heading, kind, subtree = pending.pop()
        step = rng.uniform(*_SECTION_LENGTH_UM) / _NODES_PER_SECTION
        for _ in range(_NODES_PER_SECTION):
            heading = _unit(heading + rng.normal(scale=0.25, size=3))
            points.append(points[parent] + step * heading)
            radii.append(float(rng.uniform(0.15, 0.6) if kind != AXON else rng.uniform(0.1, 0.3)))
            kinds.append(kind)
            parents.append(parent)
            parent = len(points) - 1
        if subtree > 0:
            left = int(rng.integers(0, subtree))
            for share in (left, subtree - 1 - left):
                branch = _unit(heading + rng.normal(scale=0.8, size=3))
                pending.append((parent, branch, kind, share))

    xyz = np.array(points)
    farthest = float(np.max(np.linalg.norm(xyz, axis=1)))
    if farthest > 0 and max_distance_um > 0:
        xyz *= float(max_distance_um) / farthest
    xyz += np.asarray(soma_xyz, dtype=np.float64)
    return SwcTree(
        kind=np.array(kinds, dtype=np.int64),
        xyz=xyz,
        radius=np.array(radii),
        parent=np.array(parents, dtype=np.int64),
    )


def to_swc_text(tree: SwcTree) -> str:
    """The tree as SWC text with 1-based ids."""
    lines = ["#n,type,x,y,z,radius,parent"]
    for row in range(tree.kind.size):
        x, y, z = tree.xyz[row]
        parent = int(tree.parent[row])
        lines.append(
            f"{row + 1} {int(tree.kind[row])} {x:.4f} {y:.4f} {z:.4f} {tree.radius[row]:.4f} "
            f"{parent + 1 if parent >= 0 else -1}"
        )
    return "\n".join(lines) + "\n"


def synthetic_marker(rng: np.random.Generator, tree: SwcTree, *, full: bool) -> str:
    """A Vaa3D marker file: cut dendrite tips, and for dendrite-only cells where the axon stops."""
    # AllenSDK subtracts one voxel on reading, so markers are written one voxel out.
    voxel = np.array([0.1144, 0.1144, 0.28])
    tips = [t for t in tree.tips() if tree.kind[t] in (BASAL_DENDRITE, APICAL_DENDRITE)]
    chosen = (
        rng.choice(tips, size=min(len(tips), int(rng.integers(1, 4))), replace=False)
        if tips
        else np.zeros(0, dtype=np.int64)
    )
    marks = [(tree.xyz[int(t)] + voxel, CUT_DENDRITE) for t in sorted(chosen)]
    if not full:
        marks.append((tree.xyz[0] + voxel, NO_RECONSTRUCTION))
    lines = ["##x,y,z,radius,shape,name,comment, color_r,color_g,color_b"]
    for (x, y, z), code in marks:
        lines.append(f"{x:.4f},{y:.4f},{z:.4f},0.0, 1, {code}, , 231,98,40")
    return "\n".join(lines) + "\n"


def parse_swc(text: str) -> SwcTree:
    """Read SWC text (any ids, ``#`` comments) into row-indexed arrays."""
    rows = [line.split() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    ids = {int(r[0]): i for i, r in enumerate(rows)}
    return SwcTree(
        kind=np.array([int(r[1]) for r in rows], dtype=np.int64),
        xyz=np.array([[float(v) for v in r[2:5]] for r in rows]).reshape(-1, 3),
        radius=np.array([float(r[5]) for r in rows]),
        parent=np.array([ids.get(int(r[6]), -1) for r in rows], dtype=np.int64),
    )


def tree_measurements(tree: SwcTree) -> dict[str, float | int]:
    """NeuronReconstruction measurements that follow directly from the tree."""
    children = np.bincount(tree.parent[tree.parent >= 0], minlength=tree.parent.size)
    child_rows = np.flatnonzero(tree.parent >= 0)
    segment = np.linalg.norm(tree.xyz[child_rows] - tree.xyz[tree.parent[child_rows]], axis=1)
    path = np.zeros(tree.parent.size)
    # Rows are written parent-first, so one pass in row order accumulates path lengths.
    for row, length in zip(child_rows, segment, strict=True):
        path[row] = path[tree.parent[row]] + length
    root = int(np.flatnonzero(tree.parent < 0)[0])
    extent = np.ptp(tree.xyz, axis=0)
    neurite = tree.kind != SOMA
    bifurcations = int(np.sum((children == 2) & neurite))
    stems = int(children[root])
    return {
        "number_nodes": int(tree.parent.size),
        "number_tips": int(np.sum(children == 0)),
        "number_bifurcations": bifurcations,
        "number_stems": stems,
        "number_branches": stems + 2 * bifurcations,
        "max_euclidean_distance": float(np.max(np.linalg.norm(tree.xyz - tree.xyz[root], axis=1))),
        "max_path_distance": float(np.max(path)),
        "total_length": float(np.sum(segment)),
        "overall_width": float(extent[0]),
        "overall_height": float(extent[1]),
        "overall_depth": float(extent[2]),
        "average_diameter": float(2 * np.mean(tree.radius[neurite])) if neurite.any() else 0.0,
        "soma_surface": float(4 * np.pi * tree.radius[root] ** 2),
    }

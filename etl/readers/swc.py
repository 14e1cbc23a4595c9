"""SWC reconstructions and Vaa3D marker files: bytes in, checked node arrays out.

An SWC row is ``id type x y z radius parent``; ``parent == -1`` marks a root. The reader is more
tolerant of layout than AllenSDK (which splits on single spaces and rejects tabs, repeated spaces
and blank lines): any run of spaces or tabs separates fields, blank lines are skipped, and ``#``
starts a comment anywhere on a line. It is stricter about content: every check in
:data:`SWC_CHECKS` runs before a :class:`SwcMorphology` exists, so feature code can assume one
tree (plus Allen's disconnected axon fragments, see below) with valid links.

Decisions that the checks encode:

* **Roots.** Exactly one root anchors the tree. Allen files may also hold *fragments*: axon
  pieces that the tracer could not connect, stored as extra roots. They are kept when the file has
  exactly one soma root (type 1, parent -1); the soma root is then the tree's root and the others
  are listed in ``fragment_roots``. Several soma roots, or several roots none of which is a soma,
  are rejected.
* **Types.** 1 soma, 2 axon, 3 basal dendrite, 4 apical dendrite. Any other non-negative integer
  (0 "undefined", 5-7 from the extended SWC convention, custom codes) is kept as *unknown*: such
  nodes count in whole-cell features, belong to no compartment, and are reported in ``notes``.
* **Links.** Duplicate ids, parents that name no node, and cycles are errors.

Parsing is vectorised over the file's bytes (numpy masks, then one pyarrow CSV pass), so a
100,000-node file reads in a fraction of a second.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
from numpy.typing import NDArray

from ctmirror.errors import SwcError

__all__ = [
    "CheckResult",
    "Marker",
    "MarkerCode",
    "NodeType",
    "SWC_CHECKS",
    "SwcMorphology",
    "parse_swc",
    "read_marker",
    "read_swc",
]

SWC_COLUMNS = ("id", "type", "x", "y", "z", "radius", "parent")
MARKER_COLUMNS = ("x", "y", "z", "radius", "shape", "name")
ROOT_PARENT = -1
# One voxel of the Allen 63x image stacks, in micrometres: AllenSDK subtracts it from marker
# coordinates so that markers line up with the SWC nodes.
MARKER_VOXEL_UM = (0.1144, 0.1144, 0.28)

_SPACE, _TAB, _NEWLINE, _HASH = 32, 9, 10, 35
_OTHER_WHITESPACE = (11, 12, 13)  # \v \f \r


class NodeType(IntEnum):
    """SWC structure identifiers used by the Allen Cell Types Database."""

    SOMA = 1
    AXON = 2
    BASAL_DENDRITE = 3
    APICAL_DENDRITE = 4


KNOWN_TYPES = frozenset(int(t) for t in NodeType)


class MarkerCode(IntEnum):
    """Marker ``name`` codes in Allen reconstruction marker files."""

    CUT_DENDRITE = 10
    NO_RECONSTRUCTION = 20


@dataclass(frozen=True, eq=False)
class SwcMorphology:
    """The nodes of one reconstruction, row order as in the file.

    ``parent_index`` holds row indices (``-1`` for roots); ``line`` the 1-based line of each row
    in the source. ``root`` is the row index of the tree's root, ``fragment_roots`` the other roots.
    """

    source: str
    id: NDArray[np.int64]
    type: NDArray[np.int64]
    x: NDArray[np.float64]
    y: NDArray[np.float64]
    z: NDArray[np.float64]
    radius: NDArray[np.float64]
    parent: NDArray[np.int64]
    parent_index: NDArray[np.int64]
    line: NDArray[np.int64]
    root: int
    fragment_roots: NDArray[np.int64]
    notes: tuple[str, ...] = field(default=())

    @property
    def n_nodes(self) -> int:
        return int(self.id.size)

    @property
    def xyz(self) -> NDArray[np.float64]:
        """Coordinates as an ``(n, 3)`` array."""
        return np.column_stack((self.x, self.y, self.z))


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one input check: ``ok``, or why not and where (1-based line)."""

    ok: bool
    reason: str = ""
    line: int | None = None


@dataclass(frozen=True)
class _Columns:
    """Parsed SWC columns before any check other than layout."""

    id: NDArray[np.float64]
    type: NDArray[np.float64]
    x: NDArray[np.float64]
    y: NDArray[np.float64]
    z: NDArray[np.float64]
    radius: NDArray[np.float64]
    parent: NDArray[np.float64]
    line: NDArray[np.int64]


@dataclass(frozen=True)
class Marker:
    """One marker: image position (voxel offset removed, as AllenSDK does) and its code."""

    x: float
    y: float
    z: float
    name: int


# ---------------------------------------------------------------- tokenising


@dataclass(frozen=True)
class _Table:
    """Whitespace-normalised data rows of a text file and the 1-based line of each row."""

    body: bytes
    line: NDArray[np.int64]
    n_fields: NDArray[np.int64]


def _normalise(raw: bytes) -> _Table:
    """Drop comments and blank lines and turn every field separator into one space.

    Works on byte masks rather than per-line Python strings: comment bytes run from the first
    ``#`` of a line to its end, separators are runs of spaces, tabs and other ASCII whitespace,
    and a row is kept when it holds at least one field.
    """
    buf = np.frombuffer(raw, dtype=np.uint8).copy()
    if buf.size == 0 or buf[-1] != _NEWLINE:
        buf = np.append(buf, np.uint8(_NEWLINE))
    is_newline = buf == _NEWLINE
    line_of = np.cumsum(is_newline) - is_newline  # 0-based line of each byte
    n_lines = int(line_of[-1]) + 1

    hashes = np.flatnonzero(buf == _HASH)
    if hashes.size:
        lines_with_hash, first = np.unique(line_of[hashes], return_index=True)
        comment_start = np.full(n_lines, buf.size, dtype=np.int64)
        comment_start[lines_with_hash] = hashes[first]
        in_comment = (np.arange(buf.size) >= comment_start[line_of]) & ~is_newline
        buf[in_comment] = _SPACE

    blank = np.isin(buf, np.frombuffer(bytes((_TAB, *_OTHER_WHITESPACE)), np.uint8))
    buf[blank] = _SPACE
    field_byte = (buf != _SPACE) & ~is_newline
    starts = np.flatnonzero(field_byte & ~np.concatenate(([False], field_byte[:-1])))
    n_fields_per_line = np.bincount(line_of[starts], minlength=n_lines)

    first_on_line = np.ones(starts.size, dtype=bool)
    first_on_line[1:] = line_of[starts[1:]] != line_of[starts[:-1]]
    keep = field_byte.copy()
    keep[starts[~first_on_line] - 1] = True  # one separator before every field but the first
    newlines = np.flatnonzero(is_newline)
    keep[newlines[n_fields_per_line[line_of[newlines]] > 0]] = True
    buf[starts[~first_on_line] - 1] = _SPACE

    data_lines = np.flatnonzero(n_fields_per_line > 0)
    return _Table(
        body=buf[keep].tobytes(),
        line=data_lines.astype(np.int64) + 1,
        n_fields=n_fields_per_line[data_lines].astype(np.int64),
    )


def _parse_floats(
    table: _Table, names: tuple[str, ...], source: str
) -> dict[str, NDArray[np.float64]]:
    """Parse a normalised table whose rows all have ``len(names)`` fields into float columns."""
    if table.line.size == 0:
        return {name: np.empty(0, dtype=np.float64) for name in names}
    try:
        parsed = pa_csv.read_csv(
            io.BytesIO(table.body),
            read_options=pa_csv.ReadOptions(column_names=list(names), use_threads=False),
            parse_options=pa_csv.ParseOptions(delimiter=" ", quote_char=False),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.float64() for name in names},
                strings_can_be_null=False,
                null_values=[],
            ),
        )
    except pa.ArrowInvalid:
        raise _first_non_numeric(table, source) from None
    return {name: parsed[name].to_numpy(zero_copy_only=False) for name in names}


def _first_non_numeric(table: _Table, source: str) -> SwcError:
    """Locate the first field that is not a number (only run when parsing already failed)."""
    for line_no, row in zip(
        table.line, table.body.decode(errors="replace").splitlines(), strict=True
    ):
        for position, token in enumerate(row.split(" "), 1):
            try:
                float(token)
            except ValueError:
                return SwcError(
                    f"{source} line {line_no}: field {position} is {token!r}, not a number; "
                    "fix or remove the row"
                )
    return SwcError(f"{source}: unreadable numbers; check the file's encoding")


# ------------------------------------------------------------------ checks


def check_finite(cols: _Columns) -> CheckResult:
    """Every field is a finite number."""
    stacked = np.column_stack(
        (cols.id, cols.type, cols.x, cols.y, cols.z, cols.radius, cols.parent)
    )
    bad = np.flatnonzero(~np.isfinite(stacked).all(axis=1))
    if bad.size:
        return CheckResult(False, "a field is NaN or infinite", int(cols.line[bad[0]]))
    return CheckResult(True)


def check_integer_fields(cols: _Columns) -> CheckResult:
    """id, type and parent are integers; id and type are not negative."""
    for name, values in (("id", cols.id), ("type", cols.type), ("parent", cols.parent)):
        bad = np.flatnonzero(values != np.round(values))
        if bad.size:
            return CheckResult(
                False, f"{name} {values[bad[0]]:g} is not an integer", int(cols.line[bad[0]])
            )
    for name, values in (("id", cols.id), ("type", cols.type)):
        bad = np.flatnonzero(values < 0)
        if bad.size:
            return CheckResult(
                False, f"{name} {values[bad[0]]:g} is negative", int(cols.line[bad[0]])
            )
    return CheckResult(True)


def check_radius(cols: _Columns) -> CheckResult:
    """No negative radius."""
    bad = np.flatnonzero(cols.radius < 0)
    if bad.size:
        return CheckResult(
            False, f"radius {cols.radius[bad[0]]:g} is negative", int(cols.line[bad[0]])
        )
    return CheckResult(True)


def check_unique_ids(cols: _Columns) -> CheckResult:
    """No two rows share an id."""
    order = np.argsort(cols.id, kind="stable")
    repeated = np.flatnonzero(cols.id[order][1:] == cols.id[order][:-1])
    if repeated.size:
        rows = order[repeated + 1]
        row = rows[np.argmin(cols.line[rows])]
        return CheckResult(False, f"id {int(cols.id[row])} appears twice", int(cols.line[row]))
    return CheckResult(True)


def check_parents_exist(cols: _Columns) -> CheckResult:
    """Every parent is -1 or the id of a row."""
    has_parent = cols.parent != ROOT_PARENT
    missing = np.flatnonzero(has_parent & ~np.isin(cols.parent, cols.id))
    if missing.size:
        row = missing[0]
        return CheckResult(
            False,
            f"parent {int(cols.parent[row])} of node {int(cols.id[row])} is not in the file",
            int(cols.line[row]),
        )
    return CheckResult(True)


def check_single_tree(cols: _Columns) -> CheckResult:
    """One root, or one soma root plus disconnected fragments."""
    roots = np.flatnonzero(cols.parent == ROOT_PARENT)
    if roots.size == 0:
        return CheckResult(False, "no root (no node has parent -1): the parent links form a cycle")
    if roots.size == 1:
        return CheckResult(True)
    soma_roots = roots[cols.type[roots] == NodeType.SOMA]
    if soma_roots.size == 1:
        return CheckResult(True)
    ids = ", ".join(str(int(cols.id[r])) for r in roots[:5])
    what = "soma roots" if soma_roots.size > 1 else "roots and none is a soma"
    shown = soma_roots if soma_roots.size > 1 else roots
    return CheckResult(
        False,
        f"{shown.size} {what} (ids {ids}{', ...' if roots.size > 5 else ''}); expected one tree",
        int(cols.line[shown[1]]),
    )


def check_acyclic(cols: _Columns) -> CheckResult:
    """Following parents from any node reaches a root."""
    parent_index = _parent_index(cols.id.astype(np.int64), cols.parent.astype(np.int64))
    reaches_root = _reaches_root(parent_index)
    if reaches_root.all():
        return CheckResult(True)
    start = int(np.flatnonzero(~reaches_root)[0])
    cycle = _cycle_from(start, parent_index)
    ids = " -> ".join(str(int(cols.id[i])) for i in (*cycle, cycle[0]))
    return CheckResult(False, f"cycle in parent links: {ids}", int(cols.line[min(cycle)]))


#: Checks in the order they run; each assumes the ones before it passed.
SWC_CHECKS: tuple[Callable[[_Columns], CheckResult], ...] = (
    check_finite,
    check_integer_fields,
    check_radius,
    check_unique_ids,
    check_parents_exist,
    check_single_tree,
    check_acyclic,
)


def _parent_index(ids: NDArray[np.int64], parents: NDArray[np.int64]) -> NDArray[np.int64]:
    """Row index of each node's parent, -1 for roots (ids unique, parents present)."""
    order = np.argsort(ids, kind="stable")
    position = np.searchsorted(ids, parents, sorter=order)
    position = np.minimum(position, ids.size - 1)
    index = order[position]
    return np.where(parents == ROOT_PARENT, -1, index).astype(np.int64)


def _reaches_root(parent_index: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Which nodes have a root among their ancestors (pointer doubling, O(n log n))."""
    n = parent_index.size
    is_root = parent_index < 0
    ancestor = np.where(is_root, np.arange(n), parent_index)
    for _ in range(max(1, int(np.ceil(np.log2(n + 1))) + 1)):
        ancestor = ancestor[ancestor]
    return is_root[ancestor]


def _cycle_from(start: int, parent_index: NDArray[np.int64]) -> list[int]:
    """The rows on the cycle reached by walking up from ``start`` (error path only)."""
    seen: dict[int, int] = {}
    path: list[int] = []
    node = start
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = int(parent_index[node])
    return path[seen[node] :]


# ------------------------------------------------------------------ reading

#: A file is read whole; the largest published reconstructions (whole-brain axons) are tens of
#: MiB, so anything past this bound is refused before it takes the memory.
MAX_SWC_BYTES = 512 << 20


def _source_text(path_or_text: str | os.PathLike[str] | bytes) -> tuple[bytes, str]:
    """Bytes and a display name: a path (``Path`` or a one-line ``str``), SWC text, or bytes."""
    if isinstance(path_or_text, bytes):
        return path_or_text, "<bytes>"
    if isinstance(path_or_text, str) and "\n" in path_or_text:
        return path_or_text.encode(), "<text>"
    path = Path(path_or_text)
    try:
        size = path.stat().st_size
        if size > MAX_SWC_BYTES:
            raise SwcError(f"{path.name} is larger than an SWC file can be ({size} bytes, at "
                           f"most {MAX_SWC_BYTES}); not read")
        return path.read_bytes(), path.name
    except OSError as exc:
        raise SwcError(f"cannot read {path}: {exc.strerror or exc}; check the path") from None


def read_swc(path_or_text: str | os.PathLike[str] | bytes) -> SwcMorphology:
    """Read and check an SWC file: a path, SWC text (a ``str`` holding a newline) or bytes.

    Raises :class:`~ctmirror.errors.SwcError` naming the file and line of the first problem.
    """
    raw, source = _source_text(path_or_text)
    return parse_swc(raw, source=source)


def parse_swc(raw: bytes, *, source: str = "<bytes>") -> SwcMorphology:
    """Parse SWC bytes; ``source`` names the input in error messages."""
    table = _normalise(raw)
    wrong = np.flatnonzero(table.n_fields != len(SWC_COLUMNS))
    if wrong.size:
        row = wrong[0]
        raise SwcError(
            f"{source} line {table.line[row]}: {table.n_fields[row]} fields, expected 7 "
            "(id type x y z radius parent)"
        )
    if table.line.size == 0:
        raise SwcError(f"{source}: no SWC rows; expected lines 'id type x y z radius parent'")
    values = _parse_floats(table, SWC_COLUMNS, source)
    cols = _Columns(line=table.line, **values)
    for check in SWC_CHECKS:
        result = check(cols)
        if not result.ok:
            where = f" line {result.line}" if result.line is not None else ""
            raise SwcError(f"{source}{where}: {result.reason}")
    return _build(cols, source)


def _build(cols: _Columns, source: str) -> SwcMorphology:
    ids = cols.id.astype(np.int64)
    types = cols.type.astype(np.int64)
    parents = cols.parent.astype(np.int64)
    parent_index = _parent_index(ids, parents)
    roots = np.flatnonzero(parent_index < 0)
    if roots.size == 1:
        root = int(roots[0])
    else:
        root = int(roots[types[roots] == NodeType.SOMA][0])
    notes: list[str] = []
    fragment_roots = roots[roots != root].astype(np.int64)
    if fragment_roots.size:
        notes.append(
            f"{fragment_roots.size} disconnected fragment(s) besides the soma tree "
            f"(roots at lines {_lines(cols.line[fragment_roots])})"
        )
    unknown = np.flatnonzero(~np.isin(types, list(KNOWN_TYPES)))
    if unknown.size:
        codes = ", ".join(str(t) for t in np.unique(types[unknown]))
        notes.append(
            f"{unknown.size} node(s) of unknown type {codes} (lines "
            f"{_lines(cols.line[unknown])}): kept for whole-cell features only"
        )
    return SwcMorphology(
        source=source,
        id=ids,
        type=types,
        x=cols.x,
        y=cols.y,
        z=cols.z,
        radius=cols.radius,
        parent=parents,
        parent_index=parent_index,
        line=cols.line,
        root=root,
        fragment_roots=fragment_roots,
        notes=tuple(notes),
    )


def _lines(lines: NDArray[np.int64], shown: int = 3) -> str:
    text = ", ".join(str(int(n)) for n in lines[:shown])
    return text + (", ..." if lines.size > shown else "")


# ------------------------------------------------------------------ markers


def read_marker(path_or_text: str | os.PathLike[str] | bytes) -> list[Marker]:
    """Read a Vaa3D marker file (``x,y,z,radius,shape,name,comment,color_r,color_g,color_b``).

    Coordinates are shifted by one voxel (:data:`MARKER_VOXEL_UM`) as AllenSDK does; ``name`` is
    the marker code (:class:`MarkerCode`). Raises :class:`~ctmirror.errors.SwcError` on a
    malformed row.
    """
    raw, source = _source_text(path_or_text)
    # Marker rows have 10 comma-separated fields of which the comment is usually empty; keeping
    # the first six needs no CSV quoting rules.
    rows: list[Marker] = []
    for line_no, line in enumerate(raw.decode(errors="replace").splitlines(), 1):
        content = line.partition("#")[0].strip()
        if not content:
            continue
        fields = [f.strip() for f in content.split(",")]
        if len(fields) < len(MARKER_COLUMNS):
            raise SwcError(
                f"{source} line {line_no}: {len(fields)} fields, expected at least 6 "
                "(x,y,z,radius,shape,name,...)"
            )
        try:
            x, y, z = (float(v) for v in fields[:3])
            name = int(float(fields[5]))
        except ValueError:
            raise SwcError(f"{source} line {line_no}: x, y, z or name is not a number") from None
        dx, dy, dz = MARKER_VOXEL_UM
        rows.append(Marker(x=x - dx, y=y - dy, z=z - dz, name=name))
    return rows

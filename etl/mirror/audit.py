"""``ctmirror verify``: does every file under the mirror root still hold what the warehouse
says it verified?

Each ``mirror_files`` row promises ``root/<relpath>`` with ``size`` bytes and ``sha256``; the
audit re-hashes every file (on a few threads: hashlib releases the GIL) and reports the rows
whose file is missing or differs, plus files under ``files/`` that no row knows and partial
downloads still waiting to be resumed. With ``fix`` a differing file is deleted, so the next
sync downloads it again.

With an object store (``store``) the objects are audited instead of the local working copy:
one listing gives every size, each object is read back from the store and hashed, and the
content checks run on a temporary local copy. Partial downloads are still looked for in the
local working copy (the store never holds one).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from rich.console import Console

from ctmirror.errors import FileIntegrityError
from ctmirror.mirror.download_dir import PART_SUFFIX
from ctmirror.mirror.verify import FileKind, sha256_file, verify_content
from ctmirror.warehouse.mirror_files import MirroredFile, mirrored_files

if TYPE_CHECKING:
    from ctmirror.storage import ObjectStore


@dataclass(frozen=True)
class FileProblem:
    relpath: str
    problem: str  # missing | size | sha256 | content
    detail: str


@dataclass(frozen=True)
class MirrorAudit:
    checked: int
    bytes_hashed: int
    seconds: float
    problems: tuple[FileProblem, ...]
    untracked: tuple[str, ...]
    partials: tuple[str, ...]
    fixed: int = 0
    content: bool = False  # whether the content checks ran too


def audit_mirror(engine: sa.Engine, root: Path, *, content: bool = False, fix: bool = False,
                 workers: int = 2, store: ObjectStore | None = None) -> MirrorAudit:
    started = time.perf_counter()
    root = Path(root)
    with engine.connect() as conn:
        rows = list(mirrored_files(conn).values())
    stored = None if store is None else store.sizes("files")
    with ThreadPoolExecutor(max_workers=workers) as pool:
        if store is None or stored is None:
            outcomes = list(pool.map(lambda row: _check(root, row, content), rows))
        else:
            outcomes = list(pool.map(
                lambda row: _check_stored(store, stored, root, row, content), rows))
    problems = tuple(p for p, _ in outcomes if p is not None)
    fixed = 0
    if fix:
        differing = [problem.relpath for problem in problems if problem.problem != "missing"]
        if store is not None:
            store.delete(differing)
        for relpath in differing:
            (root / relpath).unlink(missing_ok=True)
        fixed = len(differing)
    tracked = {row.relpath for row in rows}
    untracked, partials = _walk(root, tracked)
    if stored is not None:
        untracked = tuple(sorted(set(stored) - tracked))
    return MirrorAudit(
        checked=len(rows), bytes_hashed=sum(size for _, size in outcomes),
        seconds=time.perf_counter() - started, problems=problems, untracked=untracked,
        partials=partials, fixed=fixed, content=content,
    )


def _check(root: Path, row: MirroredFile, content: bool) -> tuple[FileProblem | None, int]:
    path = root / row.relpath
    try:
        size = path.stat().st_size
    except OSError:
        return FileProblem(row.relpath, "missing", "not on disk"), 0
    if size != row.size:
        return FileProblem(row.relpath, "size", f"{size} bytes, verified with {row.size}"), 0
    sha256 = sha256_file(path)
    if sha256 != row.sha256:
        return FileProblem(row.relpath, "sha256",
                           f"sha256 {sha256[:16]}..., verified {row.sha256[:16]}..."), size
    if content:
        try:
            verify_content(path, FileKind(row.kind))
        except FileIntegrityError as exc:
            return FileProblem(row.relpath, "content", str(exc)), size
    return None, size


def _check_stored(store: ObjectStore, stored: dict[str, int], work: Path, row: MirroredFile,
                  content: bool) -> tuple[FileProblem | None, int]:
    size = stored.get(row.relpath)
    if size is None:
        return FileProblem(row.relpath, "missing", f"not on {store.url}"), 0
    if size != row.size:
        return FileProblem(row.relpath, "size", f"{size} bytes, verified with {row.size}"), 0
    sha256, _ = store.sha256(row.relpath)
    if sha256 != row.sha256:
        return FileProblem(row.relpath, "sha256",
                           f"sha256 {sha256[:16]}..., verified {row.sha256[:16]}..."), size
    if content:
        with store.local_copy(row.relpath, work / "verify") as path:
            try:
                verify_content(path, FileKind(row.kind))
            except FileIntegrityError as exc:
                return FileProblem(row.relpath, "content", str(exc)), size
    return None, size


def _walk(root: Path, tracked: set[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    files_dir = root / "files"
    untracked: list[str] = []
    partials: list[str] = []
    if not files_dir.is_dir():
        return (), ()
    for path in sorted(files_dir.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if any(part.endswith(PART_SUFFIX) for part in path.relative_to(root).parts[:-1]):
            continue
        if path.is_dir():
            if path.name.endswith(PART_SUFFIX):
                partials.append(relative)
            continue
        if relative not in tracked:
            untracked.append(relative)
    return tuple(untracked), tuple(partials)


def print_audit(audit: MirrorAudit, *, console: Console | None = None, options: str = "") -> None:
    """Print the audit; ``options`` (``--root DIR``, ``--db URL``) are repeated in the commands
    it suggests."""
    console = console or Console(soft_wrap=True)
    rate = audit.bytes_hashed / audit.seconds / 1e6 if audit.seconds > 0 else 0.0
    console.print(f"checked {audit.checked} files, {audit.bytes_hashed:,} bytes re-hashed in "
                  f"{audit.seconds:.1f} s ({rate:.0f} MB/s)")
    if audit.problems:
        # One line per file, never wrapped, so paths can be copied or grepped.
        console.print(f"[bold]{len(audit.problems)} file(s) differ from the warehouse:[/]")
        for problem in audit.problems:
            console.print(f"  {problem.relpath}: {problem.problem} ({problem.detail})",
                          soft_wrap=True, markup=False, highlight=False)
        if audit.fixed:
            console.print(f"deleted {audit.fixed} differing file(s); the next sync downloads "
                          "them again")
        else:
            console.print(f"run `ctmirror verify{options} --fix` then `ctmirror sync{options}` "
                          "to fetch them again", markup=False, highlight=False)
    elif audit.content:
        console.print("[green]every file matches its recorded size and sha256 and passes its "
                      "content check[/]")
    else:
        console.print("[green]every file matches its recorded size and sha256[/] (content "
                      "checks: --content)")
    if audit.untracked:
        # Not a failure (the exit status stays 0): ctmirror never reads a file the warehouse
        # does not list, so it cannot change what the mirror serves. A sync leaves such files
        # when a record or file name is removed or replaced upstream.
        console.print(f"{len(audit.untracked)} extra file(s) under files/ that the warehouse "
                      f"does not list, e.g. {audit.untracked[0]}: not part of the mirror and "
                      "never read by ctmirror (left by files removed or renamed upstream, or put "
                      "there by hand); delete them if you do not need them",
                      soft_wrap=True, markup=False, highlight=False)
    if audit.partials:
        console.print(f"{len(audit.partials)} partial download(s) waiting to be resumed by the "
                      "next sync")


__all__ = ["FileProblem", "MirrorAudit", "audit_mirror", "print_audit"]

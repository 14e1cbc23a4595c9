"""NEURON mechanisms (``.mod`` files) compiled with ``nrnivmodl`` once per content hash.

The cache folder holds one ``<sha256>/`` folder per distinct set of ``.mod`` files (the hash is
over their names and bytes, so a mirrored template and a package's own copy with the same bytes
share it). A compile happens in a temporary folder renamed into place, so a crash or a
concurrent compile never leaves a half-built library behind."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from ctmirror.errors import InputError

LIBRARY = "libnrnmech.so"


def mechanisms_hash(mod_files: Iterable[Path]) -> str:
    """sha256 over the sorted file names and contents of a set of ``.mod`` files."""
    digest = hashlib.sha256()
    for path in sorted(mod_files, key=lambda p: p.name):
        digest.update(path.name.encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def mod_files_in(folder: Path) -> list[Path]:
    """The ``.mod`` files of a folder; an input error when there are none."""
    found = sorted(folder.glob("*.mod"))
    if not found:
        raise InputError(f"{folder}: no .mod files")
    return found


def compile_mechanisms(mod_files: Iterable[Path], cache: Path) -> Path:
    """The compiled library of these ``.mod`` files, built under ``cache`` if not there yet."""
    files = sorted(mod_files, key=lambda p: p.name)
    if not files:
        raise InputError("no .mod files to compile")
    target = cache / mechanisms_hash(files)
    built = _library(target)
    if built is not None:
        return built
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".build-",
                                     ignore_cleanup_errors=True) as tmp:
        work = Path(tmp)
        sources = work / "mod"
        sources.mkdir()
        for path in files:
            shutil.copyfile(path, sources / path.name)
        done = subprocess.run([_nrnivmodl(), "mod"], cwd=work, capture_output=True, text=True)
        if done.returncode != 0 or _library(work) is None:
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no library"]
            raise InputError(f"nrnivmodl failed on {len(files)} .mod files: {last[0]}")
        try:
            work.rename(target)
        except OSError:  # another process finished the same set first
            if _library(target) is None:
                raise
    built = _library(target)
    assert built is not None
    return built


def _library(folder: Path) -> Path | None:
    # nrnivmodl writes <arch>/libnrnmech.so (x86_64, aarch64, arm64)
    found = sorted(folder.glob(f"*/{LIBRARY}")) if folder.is_dir() else []
    return found[0] if found else None


def _nrnivmodl() -> str:
    beside = Path(sys.executable).with_name("nrnivmodl")
    found = str(beside) if beside.exists() else shutil.which("nrnivmodl")
    if found is None:
        raise InputError("nrnivmodl not found (it comes with the neuron package)")
    return found


__all__ = ["compile_mechanisms", "mechanisms_hash", "mod_files_in"]

"""The directions of import between the package's layers, checked on the source."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: Folders of the repository and the import names they install as.
FOLDERS = {"etl": "ctmirror", "schema": "ctmirror.schema", "flows": "ctmirror.flows"}
PIPELINE = (
    "etl/sync*.py", "etl/crawl", "etl/mirror", "etl/warehouse", "etl/convert", "etl/readers",
    "etl/features", "etl/glif", "etl/metrics", "etl/rma", "flows", "schema",
)
NUMERIC_CORES = ("etl/features", "etl/glif", "etl/metrics")
#: Lays spike tables out as the warehouse's ``ephys_spikes`` Parquet dataset (``schema.parquet``):
#: the one module of the numeric cores that reads the schema.
SPIKES_LAYOUT = "etl/features/ephys/arrow.py"


def _files(pattern: str) -> list[Path]:
    path = REPO / pattern
    if path.is_dir():
        return sorted(path.rglob("*.py"))
    return sorted(REPO.glob(pattern))


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of the file (lazy imports count)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _offending(patterns: tuple[str, ...], allowed: Callable[[str], bool], *, skip: str = ""
               ) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for pattern in patterns:
        for path in _files(pattern):
            if skip and path == REPO / skip:
                continue
            bad = sorted(n for n in _imports(path) if not allowed(n))
            if bad:
                found[str(path.relative_to(REPO))] = bad
    return found


def test_the_pipeline_never_imports_the_replica() -> None:
    assert _files("etl/sync*.py") and _files("etl/crawl")
    assert _offending(PIPELINE, lambda n: not n.startswith("ctmirror.replica")) == {}


def test_schema_imports_only_itself_and_the_feature_names() -> None:
    def allowed(name: str) -> bool:
        return not name.startswith("ctmirror") or name.startswith(
            ("ctmirror.schema", "ctmirror.features.names"))

    assert _offending(("schema",), allowed) == {}


def test_converters_depend_on_readers_never_the_reverse() -> None:
    assert _offending(("etl/readers",), lambda n: not n.startswith("ctmirror.convert")) == {}
    uses = set().union(*(_imports(p) for p in _files("etl/convert")))
    assert "ctmirror.readers.nwb" in uses and "ctmirror.readers.hdf5_chunks" in uses


@pytest.mark.parametrize("library", ["sqlalchemy", "h5py", "httpx", "ctmirror.schema"])
def test_numeric_cores_do_no_io(library: str) -> None:
    assert _offending(NUMERIC_CORES, lambda n: not n.startswith(library), skip=SPIKES_LAYOUT) == {}
    if library != "ctmirror.schema":
        assert _offending((SPIKES_LAYOUT,), lambda n: not n.startswith(library)) == {}


def _loaded_after(module: str) -> set[str]:
    code = f"import sys, {module}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    return set(out.split())


def test_importing_the_schema_loads_no_numeric_code() -> None:
    loaded = _loaded_after("ctmirror.schema")
    assert "sqlalchemy" in loaded and "ctmirror.features.names" in loaded
    assert not {"numba", "scipy", "ctmirror.features.registry"} & loaded


def test_importing_the_ephys_features_loads_no_sqlalchemy() -> None:
    loaded = _loaded_after("ctmirror.features.ephys.cell")
    assert "numba" in loaded and "ctmirror.features.registry" in loaded
    assert not {"sqlalchemy", "ctmirror.schema", "h5py"} & loaded

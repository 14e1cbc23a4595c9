"""What importing a layer loads, checked in a fresh interpreter.

The directions of import between the layers are the import contracts in ``pyproject.toml``
(``make contracts``); these tests check what they cannot see: the modules a layer pulls in at
import time, through every package ``__init__`` on the way.
"""

from __future__ import annotations

import subprocess
import sys


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

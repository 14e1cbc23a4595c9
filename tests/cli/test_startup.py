"""The command line starts without the heavy packages: `ctmirror --help` and the help of the
everyday commands import none of them (numba alone took 1.2 s); each command loads what it
needs when it runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

#: Packages no help text needs: numeric and compiled code, file formats, the workflow engine,
#: the databases and the HTTP client.
HEAVY = ("numba", "scipy", "numpy", "h5py", "pyarrow", "prefect", "sqlalchemy", "duckdb",
         "alembic", "psycopg", "httpx", "PIL", "plotly", "jinja2", "rich")

_PROBE = """
import json, sys
from ctmirror.cli import app
try:
    app(sys.argv[1:], prog_name="ctmirror")
except SystemExit:
    pass
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})), file=sys.stderr)
"""


def _loaded(*args: str) -> tuple[set[str], str]:
    proc = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True,
                          text=True, timeout=120, check=True)
    *err, modules = proc.stderr.strip().splitlines()
    # `ctmirror` alone prints its help to stderr (click's no_args_is_help)
    return set(json.loads(modules)), proc.stdout + "\n".join(err)


@pytest.mark.parametrize("args", [
    (), ("--help",), ("sql", "--help"), ("status", "--help"), ("sync", "--help"),
    ("verify", "--help"), ("features", "morphology", "--help"), ("glif", "run", "--help"),
    ("db", "--help"), ("corpus", "synth", "--help"), ("schedule", "serve", "--help"),
])
def test_help_loads_no_heavy_package(args: tuple[str, ...]) -> None:
    loaded, out = _loaded(*args)
    assert "Usage: ctmirror" in out
    assert sorted(loaded.intersection(HEAVY)) == []


def test_a_command_still_loads_what_it_needs(tmp_path: Path) -> None:
    """The probe can fail: a command that runs imports its packages."""
    duckdb.connect(str(tmp_path / "w.duckdb")).close()
    loaded, out = _loaded("sql", "--db", f"duckdb:///{tmp_path / 'w.duckdb'}", "SELECT 41 + 1")
    assert {"duckdb", "sqlalchemy"} <= loaded
    assert out.splitlines()[2].strip() == "42"


def test_help_has_no_flag_placeholders_and_shows_defaults() -> None:
    _, out = _loaded("sync", "--help")
    assert "<bool>" not in out
    assert "[default: http://api.brain-map.org]" in " ".join(out.split()).replace("brain- map",
                                                                                  "brain-map")
    assert "[default: ./data]" in out
    _, out = _loaded("sql", "--help")
    assert "Usage: ctmirror sql [OPTIONS] {QUERY}" in out  # typer 0.29 braces a required one
    assert "--max-rows" in out and "[default: 40;" in out

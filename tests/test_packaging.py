"""The distribution installs one import package, ``ctmirror``, assembled from the repository's
folders (``etl/`` is ``ctmirror``; ``schema/``, ``flows/`` and ``migrations/`` its
subpackages), and nothing else at the top level of a user's environment."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _setuptools() -> dict[str, object]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]


def _folder_of(package: str, package_dir: dict[str, str]) -> Path:
    """The repository folder a dotted package name is built from."""
    parts = package.split(".")
    for cut in range(len(parts), 0, -1):
        mapped = package_dir.get(".".join(parts[:cut]))
        if mapped is not None:
            return REPO / mapped / Path(*parts[cut:])
    raise AssertionError(f"{package} is under no mapped folder")


def test_every_package_folder_is_listed_and_every_listed_package_exists() -> None:
    config = _setuptools()
    package_dir: dict[str, str] = config["package-dir"]  # type: ignore[assignment]
    listed = set(config["packages"])  # type: ignore[call-overload]
    folders = {_folder_of(package, package_dir) for package in listed}
    # a listed folder is a package, or a data folder (templates, .mod files) with no Python
    assert all((folder / "__init__.py").is_file() or not any(folder.glob("*.py"))
               for folder in folders if folder.is_dir()), "a listed folder lacks __init__.py"
    assert all(folder.is_dir() for folder in folders), sorted(
        str(f) for f in folders if not f.is_dir())
    on_disk = {init.parent for top in set(package_dir.values())
               for init in (REPO / top).rglob("__init__.py")
               if "__pycache__" not in init.parts}
    assert on_disk - folders == set(), "package folders missing from pyproject's list"
    assert {name.split(".")[0] for name in listed} == {"ctmirror"}


@pytest.mark.slow
def test_wheel_holds_only_ctmirror_and_runs_without_the_checkout(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    str(REPO), "-w", str(tmp_path)],
                   check=True, capture_output=True)
    (wheel,) = tmp_path.glob("ctmirror-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
        names = set(archive.namelist())
    assert {t for t in tops if not t.endswith(".dist-info")} == {"ctmirror"}
    assert "ctmirror/migrations/script.py.mako" in names
    assert any(n.startswith("ctmirror/migrations/versions/20") for n in names)
    assert "ctmirror/py.typed" in names

    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(target), str(wheel)], check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(target)}
    probe = ("import importlib.util, ctmirror, ctmirror.schema, ctmirror.migrations;"
             "print(ctmirror.__file__);"
             "print([m for m in ('etl', 'schema', 'flows', 'migrations')"
             " if importlib.util.find_spec(m) is not None])")
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, check=True,
                         capture_output=True, text=True).stdout.splitlines()
    assert out[0].startswith(str(target))
    assert out[1] == "[]"
    help_text = subprocess.run([sys.executable, "-m", "ctmirror", "--help"], cwd=tmp_path,
                               env=env, check=True, capture_output=True, text=True).stdout
    assert "sync" in help_text

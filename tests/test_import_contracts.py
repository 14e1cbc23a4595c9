"""The import contracts in pyproject.toml name every top-level module of the package.

The contracts list what the numeric cores and the schema must not import; a module added or
renamed without being listed there would escape them. (`make contracts` checks the imports.)
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
#: what the numeric cores may import of the package besides themselves
SHARED_WITH_CORES = {"ctmirror.errors"}
#: never imported by package code
ENTRY_POINTS = {"ctmirror.__main__"}


def _top_level_modules() -> set[str]:
    setuptools = PYPROJECT["tool"]["setuptools"]
    packages = {p for p in setuptools["packages"] if p.count(".") == 1}
    package_root = ROOT / setuptools["package-dir"]["ctmirror"]
    modules = {f"ctmirror.{f.stem}" for f in package_root.glob("*.py") if f.stem != "__init__"}
    return (packages | modules) - ENTRY_POINTS


def _contract(contract_id: str) -> dict[str, Any]:
    contracts = PYPROJECT["tool"]["importlinter"]["contracts"]
    (found,) = (c for c in contracts if c["id"] == contract_id)
    return found


def test_numeric_cores_contract_names_every_module() -> None:
    contract = _contract("numeric-cores")
    named = set(contract["source_modules"]) | set(contract["forbidden_modules"])
    missing = _top_level_modules() - named - SHARED_WITH_CORES
    assert not missing, f"add to the numeric-cores contract's forbidden_modules: {sorted(missing)}"


def test_schema_contract_names_every_module() -> None:
    contract = _contract("schema-alone")
    named = set(contract["source_modules"]) | set(contract["forbidden_modules"])
    missing = _top_level_modules() - named
    assert not missing, f"add to the schema-alone contract's forbidden_modules: {sorted(missing)}"


def test_contracts_name_only_existing_modules() -> None:
    modules = _top_level_modules()
    for contract_id in ("numeric-cores", "schema-alone"):
        internal = {m for m in _contract(contract_id)["forbidden_modules"]
                    if m.startswith("ctmirror.")}
        assert internal <= modules, f"{contract_id}: no such module {sorted(internal - modules)}"

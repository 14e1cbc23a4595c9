"""The installed layout of `ctmirror` as a tree of symlinks, for tools that walk folders.

The repository's folders install as one import package through setuptools' package-dir mapping
(`etl/` is `ctmirror`, `schema/` is `ctmirror.schema`, ...; see pyproject.toml). Tools that find
modules by walking the file system (mypy, import-linter) cannot see that mapping, so
`build_tree()` builds `build/typecheck/ctmirror/...` out of real folders holding symlinks to the
repository's `.py` files, read from `[tool.setuptools]` in pyproject.toml. `to_repo_paths()` turns
paths in a tool's output back into repository paths.
"""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / "build" / "typecheck"


def package_folders(root: Path = ROOT) -> dict[str, Path]:
    """Each installed package name and the repository folder it comes from."""
    setuptools = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    package_dir: dict[str, str] = setuptools.get("package-dir", {})
    folders: dict[str, Path] = {}
    for package in setuptools["packages"]:
        # the nearest mapped ancestor decides the folder; the rest of the name is subfolders
        parts = package.split(".")
        for cut in range(len(parts), 0, -1):
            base = ".".join(parts[:cut])
            if base in package_dir:
                folders[package] = root / package_dir[base] / Path(*parts[cut:])
                break
        else:
            folders[package] = root / Path(*parts)
    return folders


def build_tree(root: Path = ROOT, tree: Path = TREE) -> dict[Path, Path]:
    """(Re)build the symlink tree; returns each link's path mapped to its repository file."""
    if tree.exists():
        shutil.rmtree(tree)
    links: dict[Path, Path] = {}
    for package, folder in package_folders(root).items():
        target = tree / Path(*package.split("."))
        target.mkdir(parents=True, exist_ok=True)
        for source in sorted(folder.glob("*.py")) + sorted(folder.glob("py.typed")):
            link = target / source.name
            link.symlink_to(source)
            links[link] = source
    return links


def to_repo_paths(text: str, links: dict[Path, Path], root: Path = ROOT) -> str:
    """Replace the tree's paths in a tool's output (absolute or relative to root) by repo paths."""
    names: dict[str, str] = {}
    for link, source in links.items():
        repo = str(source.relative_to(root))
        names[str(link)] = repo
        names[str(link.relative_to(root))] = repo
    pattern = re.compile("|".join(re.escape(name) for name in sorted(names, key=len, reverse=True)))
    return pattern.sub(lambda match: names[match.group(0)], text)

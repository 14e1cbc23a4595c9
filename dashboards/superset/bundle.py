"""Zip this folder into the bundle Superset imports, with the warehouse's address filled in.

    python bundle.py OUT.zip [--warehouse-uri URI]

The database file keeps a masked password (``XXXXXXXXXX``) so no secret is committed; the URI
of the read-only role comes from ``--warehouse-uri`` or the environment variable
``CTMIRROR_WAREHOUSE_READER_URI`` (docker-compose.yml sets it) and replaces it in the zip only.
Superset stores the password encrypted and masks it again. Then:

    superset import-dashboards -p OUT.zip -u admin

Standard library and PyYAML only (both are in Superset's environment).
"""

from __future__ import annotations

import argparse
import os
import zipfile
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
#: Superset drops the first folder of every path in a bundle.
ROOT = "ctmirror_dashboard"
DATABASE = Path("databases") / "ctmirror.yaml"
URI_VARIABLE = "CTMIRROR_WAREHOUSE_READER_URI"


def bundle_files(folder: Path, warehouse_uri: str) -> dict[str, str]:
    """{path in the zip: text} of every YAML file under ``folder``, the database's
    ``sqlalchemy_uri`` set to ``warehouse_uri``."""
    files = {}
    for path in sorted(folder.rglob("*.yaml")):
        relative = path.relative_to(folder)
        text = path.read_text()
        if relative == DATABASE:
            database = yaml.safe_load(text)
            database["sqlalchemy_uri"] = warehouse_uri
            text = yaml.safe_dump(database, sort_keys=False)
        files[f"{ROOT}/{relative.as_posix()}"] = text
    return files


def write_bundle(out: Path, warehouse_uri: str, folder: Path = HERE) -> Path:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, text in bundle_files(folder, warehouse_uri).items():
            bundle.writestr(name, text)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--warehouse-uri", default=os.environ.get(URI_VARIABLE),
                        help=f"the read-only role's SQLAlchemy URI (default ${URI_VARIABLE})")
    args = parser.parse_args()
    if not args.warehouse_uri:
        parser.error(f"give --warehouse-uri or set {URI_VARIABLE}")
    print(write_bundle(args.out, args.warehouse_uri))


if __name__ == "__main__":
    main()

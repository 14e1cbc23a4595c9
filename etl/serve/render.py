"""Query answers as bytes: the RMA JSON envelope, CSV and XML (pure).

JSON keeps the key order the real API sends (success, id, start_row, num_rows, total_rows,
msg). A failure is ``success: false`` with the error text as ``msg`` (served with HTTP 500).
CSV is one header row and one row per object with no paging information; nested records do not
fit in it, so a query with ``rma::include`` is refused. XML follows the documented Rails
serialisation: a ``<Response>`` root, plural then singular entity elements, and underscores in
names turned into hyphens (``specimen__id`` → ``specimen--id``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from typing import Any
from xml.etree import ElementTree as ET

from ctmirror.errors import QueryError
from ctmirror.serve.engine import QueryResult

JSON_TYPE = "application/json; charset=utf-8"
CSV_TYPE = "text/csv; charset=utf-8"
XML_TYPE = "application/xml; charset=utf-8"


def json_body(result: QueryResult) -> bytes:
    envelope = {
        "success": True,
        "id": 0,
        "start_row": result.start_row,
        "num_rows": len(result.rows),
        "total_rows": result.total_rows,
        "msg": result.rows,
    }
    return json.dumps(envelope, separators=(",", ":"), allow_nan=False).encode()


def json_error(message: str) -> bytes:
    envelope = {
        "success": False,
        "id": -1,
        "start_row": 0,
        "num_rows": 0,
        "total_rows": 0,
        "msg": message,
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


def csv_body(result: QueryResult) -> bytes:
    columns: dict[str, None] = {}
    for row in result.rows:
        for key, value in row.items():
            if isinstance(value, dict | list):
                raise QueryError(f"CSV cannot hold the nested {key!r} records; drop "
                                 "rma::include or ask for query.json")
            columns.setdefault(key, None)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in result.rows:
        writer.writerow([_csv_cell(row.get(column)) for column in columns])
    return out.getvalue().encode()


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def xml_body(result: QueryResult) -> bytes:
    root = _response_element(True, result.start_row, len(result.rows), result.total_rows)
    entities = ET.SubElement(root, _xml_name(_plural(_snake(result.model))))
    for row in result.rows:
        _fill(ET.SubElement(entities, _xml_name(_snake(result.model))), row)
    return _xml_bytes(root)


def xml_error(message: str) -> bytes:
    root = _response_element(False, 0, 0, 0)
    root.set("id", "-1")
    root.text = message
    return _xml_bytes(root)


def _response_element(success: bool, start_row: int, num_rows: int, total_rows: int
                      ) -> ET.Element:
    return ET.Element("Response", {
        "success": "true" if success else "false",
        "id": "0",
        "start_row": str(start_row),
        "num_rows": str(num_rows),
        "total_rows": str(total_rows),
    })


def _fill(element: ET.Element, record: dict[str, Any]) -> None:
    for key, value in record.items():
        child = ET.SubElement(element, _xml_name(key))
        if isinstance(value, dict):
            _fill(child, value)
        elif isinstance(value, list):
            child.set("type", "array")
            for item in value:
                item_element = ET.SubElement(child, _xml_name(_singular(key)))
                if isinstance(item, dict):
                    _fill(item_element, item)
                else:
                    _scalar(item_element, item)
        else:
            _scalar(child, value)


def _scalar(element: ET.Element, value: Any) -> None:
    if value is None:
        element.set("nil", "true")
    elif isinstance(value, bool):
        element.set("type", "boolean")
        element.text = "true" if value else "false"
    elif isinstance(value, int):
        element.set("type", "integer")
        element.text = str(value)
    elif isinstance(value, float):
        element.set("type", "float")
        element.text = repr(value) if math.isfinite(value) else ""
    else:
        element.text = str(value)


def _xml_bytes(root: ET.Element) -> bytes:
    # typeshed types tostring() with an encoding other than "unicode" as Any; it is bytes.
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data


def _xml_name(name: str) -> str:
    return name.replace("_", "-")


def _snake(model: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", model).lower()


def _plural(name: str) -> str:
    return name if name.endswith("s") else name + "s"


def _singular(name: str) -> str:
    return name[:-1] if name.endswith("s") and not name.endswith("series") else name


__all__ = ["CSV_TYPE", "JSON_TYPE", "XML_TYPE", "csv_body", "json_body", "json_error",
           "xml_body", "xml_error"]

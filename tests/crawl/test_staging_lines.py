"""Staged pages and parsed answers hold the values the API sent, whichever JSON library ran."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from ctmirror.crawl.staging import StagingPackage
from ctmirror.rma.envelope import check_response

ODD_RECORDS = [
    {"id": 1, "name": "Émile – 東京", "x": 0.1, "y": -1e-300, "flag": True, "none": None},
    {"id": 99999999999999999999, "name": "beyond 64 bits"},
    {"id": 3, "name": "H\ud800x"},  # a lone surrogate
    {"id": 4, "value": math.nan},
    {"id": 5, "value": -math.inf, "nested": {"a": [1, 2]}},
]


def test_a_staged_page_reads_back_as_the_standard_parser_reads_it(tmp_path: Path) -> None:
    package = StagingPackage(tmp_path, "s1")
    package.write_page("Donor", "k", ODD_RECORDS)
    lines = package.page_path("Donor", "k").read_text(encoding="utf-8").splitlines()
    parsed = [json.loads(line) for line in lines]
    assert parsed[:3] == ODD_RECORDS[:3]
    assert math.isnan(parsed[3]["value"]) and parsed[4]["value"] == -math.inf
    # NaN stays NaN for the load to refuse, not null; the surrogate stays an escape.
    assert '"value":NaN' in lines[3] and "\\ud800" in lines[2]
    assert "Émile – 東京" in lines[0]


@pytest.mark.parametrize("record", ODD_RECORDS[:3], ids=["utf8", "long-int", "surrogate"])
def test_an_answer_parses_to_the_values_sent(record: dict) -> None:
    body = json.dumps({"success": True, "start_row": 0, "total_rows": 1,
                       "msg": [record]}).encode()
    assert check_response("u", 200, "application/json", body).rows == [record]


def test_an_answer_with_nan_parses_as_the_standard_parser_does() -> None:
    body = b'{"success": true, "msg": [{"id": 4, "value": NaN}]}'
    (row,) = check_response("u", 200, "application/json", body).rows
    assert math.isnan(row["value"])

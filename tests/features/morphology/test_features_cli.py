"""``ctmirror features morphology``: table and JSON output, one error line per broken file."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from ctmirror.commands.features import app

SWC_DIR = Path(__file__).parents[2] / "data" / "swc"
GOOD = SWC_DIR / "327644217.swc"
CYCLE = SWC_DIR / "pathological" / "cycle.swc"


def test_json_for_several_files_after_one_option() -> None:
    result = CliRunner().invoke(app, ["morphology", "--json", "--swc", str(GOOD), str(GOOD)])
    assert result.exit_code == 0, result.output
    values = json.loads(result.stdout)
    assert list(values) == [str(GOOD)]
    assert values[str(GOOD)]["nr__number_stems"] == 3


def test_broken_file_reports_one_line_and_others_still_run() -> None:
    result = CliRunner().invoke(
        app, ["morphology", "--swc", str(CYCLE), str(GOOD), "--compartment", "axon"]
    )
    assert result.exit_code == 1
    assert "error: cycle.swc line 3: cycle in parent links" in result.stderr
    assert "Morphology features (axon)" in result.stdout
    assert "327644217.swc" in result.stdout

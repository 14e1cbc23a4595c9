"""How `ctmirror sql` prints a result: a table that fits the terminal, or the data whole."""

from __future__ import annotations

import io
import json

from ctmirror.query_output import OutputFormat, cell_text, render_table, write_rows

SWEEP_COLUMNS = ["specimen_id", "sweep_number", "stimulus_name", "attributes", "stimulus",
                 "response", "spike_times_s"]
SWEEP_TYPES = ["BIGINT", "BIGINT", "VARCHAR", "VARCHAR", "FLOAT[]", "FLOAT[]", "DOUBLE[]"]


def _sweep(number: int) -> tuple[object, ...]:
    return (2100000001, number, "Noise 2", json.dumps({"note": "x" * 80}), [0.25] * 1_500_000,
            [0.5] * 1_500_000, None)


def _written(*args: object, **kwargs: object) -> str:
    out = io.StringIO()
    write_rows(*args, out=out, **kwargs)  # type: ignore[arg-type]
    return out.getvalue()


def test_arrays_are_summarised_with_length_and_element_type() -> None:
    assert cell_text([0.5] * 1_500_000, "FLOAT[]") == "[1,500,000 × float32]"
    assert cell_text([1, 2, 3], "BIGINT[]") == "[1, 2, 3]"
    assert cell_text([1.0] * 20, "") == "[20 × float]"
    assert cell_text(None) == ""
    assert cell_text("y" * 100) == "y" * 39 + "…"


def test_one_wide_row_is_shown_vertically_within_the_width() -> None:
    text = _written(SWEEP_COLUMNS, [_sweep(16)], OutputFormat.table, types=SWEEP_TYPES,
                    width=80)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "response       [1,500,000 × float32]" in lines
    assert "NULL: spike_times_s" in lines
    assert lines[-1] == "1 row"
    assert len(text) < 1000


def test_many_wide_rows_drop_middle_columns_and_count_the_rest() -> None:
    rows = [_sweep(n) for n in range(5)]
    text = _written(SWEEP_COLUMNS, rows, OutputFormat.table, types=SWEEP_TYPES, width=60,
                    max_rows=4, more_rows=95)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 60
    assert lines[0].split() == ["specimen_id", "sweep_number", "spike_times_s"]
    assert len([line for line in lines if line.strip().startswith("2100000001")]) == 4
    note = " ".join(text.split())
    assert "4 columns not shown" in note
    assert "stimulus_name, attributes, stimulus, response" in note
    assert " ".join(lines[-2:]).startswith("100 rows, 4 shown (96 more:")


def test_a_narrow_result_is_one_table_with_numbers_right_aligned() -> None:
    text = _written(["n", "name"], [(7, "a"), (1234, None)], OutputFormat.table, width=80)
    assert text.splitlines() == ["   n  name", "────  ────", "   7  a", "1234", "2 rows"]


def test_json_is_one_array_and_jsonl_one_object_a_line() -> None:
    rows = [(1, [1.5, 2.0]), (2, None)]
    assert json.loads(_written(["id", "a"], rows, OutputFormat.json)) == [
        {"id": 1, "a": [1.5, 2.0]}, {"id": 2, "a": None}]
    assert json.loads(_written(["id"], [], OutputFormat.json)) == []
    lines = _written(["id", "a"], rows, OutputFormat.jsonl).splitlines()
    assert [json.loads(line) for line in lines] == [{"id": 1, "a": [1.5, 2.0]},
                                                    {"id": 2, "a": None}]


def test_csv_keeps_every_value() -> None:
    text = _written(["id", "a"], [(1, [0.5] * 50)], OutputFormat.csv)
    assert text.splitlines()[1].count("0.5") == 50


def test_descriptions_wrap_instead_of_being_cut() -> None:
    text = render_table(["name", "description"], [("cells", "word " * 30)], width=50,
                        wrap_last=True)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 50
    assert " ".join(" ".join(line.split()[1:]) if n == 2 else line.strip()
                    for n, line in enumerate(lines) if n >= 2).split() == ["word"] * 30

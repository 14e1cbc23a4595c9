"""Property-based tests (hypothesis): the RMA query parser and the record loader.

The parser reads untrusted text (every query the replica serves): whatever it is given, it
returns a query or raises ``QueryError``, and a query built by ``ctmirror.rma.query`` parses
back to what was built. The loader reads untrusted records (whatever the API answered): no
record may crash the load.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctmirror.errors import QueryError
from ctmirror.rma.query import filter_clause, format_value, model_stage
from ctmirror.schema.allen_model import MODELS
from ctmirror.serve.rma_query import RmaQuery, parse_query
from tests.warehouse.staging import write_package

MODEL_NAMES = sorted(MODELS)
#: The characters RMA syntax is made of, so random text gets past the first checks often.
RMA_ALPHABET = "model::rma::criteria,include,options[]$eqnegtltgelelinil'()_.+ 0123456789-"
NAME = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)
#: Quoted strings: anything but a single quote (RMA cannot quote one) and control characters.
TEXT = st.text(st.characters(blacklist_characters="'", blacklist_categories=("Cc", "Cs")),
               max_size=20)
SCALAR = st.one_of(st.integers(-(10 ** 15), 10 ** 15), st.booleans(), TEXT,
                   st.floats(allow_nan=False, allow_infinity=False))


def _parses_or_refuses(q: str) -> None:
    try:
        assert isinstance(parse_query(q), RmaQuery)
    except QueryError as exc:
        assert str(exc) and "\n" not in str(exc)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_the_parser_takes_any_text(q: str) -> None:
    _parses_or_refuses(q)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(MODEL_NAMES), st.text(RMA_ALPHABET, max_size=200))
def test_the_parser_takes_any_rma_shaped_text(model: str, rest: str) -> None:
    _parses_or_refuses(f"model::{model}{rest}")


@st.composite
def filters(draw: st.DrawFn) -> tuple[str, str, Any]:
    op = draw(st.sampled_from(["$eq", "$ne", "$gt", "$lt", "$ge", "$le", "$in", "$li", "$il"]))
    value = draw(st.lists(SCALAR, min_size=1, max_size=4) if op == "$in" else SCALAR)
    return draw(NAME), op, value


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(MODEL_NAMES), st.lists(filters(), min_size=1, max_size=4),
       st.one_of(st.none(), st.integers(1, 10 ** 6)), st.one_of(st.none(),
                                                               st.integers(0, 10 ** 6)))
def test_a_built_query_parses_back_to_what_was_built(
    model: str, built: list[tuple[str, str, Any]], num_rows: int | None, start_row: int | None
) -> None:
    q = model_stage(model, criteria=[filter_clause(*f) for f in built], num_rows=num_rows,
                    start_row=start_row)
    parsed = parse_query(q)
    assert parsed.model == model
    got = [(f.attribute, f.op, [(v.text, v.quoted) for v in f.values]) for f in parsed.filters]
    want = []
    for attribute, op, value in built:
        values = value if op == "$in" else [value]
        want.append((attribute, op, [(_unquoted(v), isinstance(v, str)) for v in values]))
    assert got == want
    if num_rows is not None:
        assert parsed.options.num_rows == num_rows
    if start_row is not None:
        assert parsed.options.start_row == start_row


def _unquoted(value: Any) -> str:
    text = format_value(value)
    return text[1:-1] if isinstance(value, str) else text


# -- the record loader ------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2 ** 70), 2 ** 70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NAME, inner, max_size=3),
    max_leaves=6)
#: Lone surrogates cannot come from ``json.dumps`` of a str here; they are staged as escapes.
SURROGATE = st.sampled_from(["\ud800", "x\udfffy"])


@st.composite
def donor_records(draw: st.DrawFn) -> list[dict[str, Any]]:
    fields = MODELS["Donor"].fields
    records = []
    for _ in range(draw(st.integers(1, 4))):
        record = {name: draw(JSON) for name in draw(st.lists(st.sampled_from(fields),
                                                             max_size=6, unique=True))}
        record["id"] = draw(st.integers(1, 10 ** 9) | JSON)
        if draw(st.booleans()):
            record["name"] = draw(SURROGATE | TEXT)
        records.append(record)
    return records


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from ctmirror.warehouse.engine import create_warehouse_engine
    from ctmirror.warehouse.migrate import upgrade_engine

    path = tmp_path_factory.mktemp("load") / "warehouse.duckdb"
    engine = create_warehouse_engine(f"duckdb:///{path}")
    upgrade_engine(engine)
    yield engine
    engine.dispose()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=donor_records())
def test_no_record_crashes_the_load(engine: sa.Engine, records: list[dict[str, Any]]) -> None:
    from ctmirror.warehouse.load import load_staged

    with tempfile.TemporaryDirectory() as tmp:
        package = write_package(Path(tmp), f"s-{uuid.uuid4().hex[:8]}", {"Donor": [records]})
        load_staged(engine, package)  # bad records are quarantined, never an abort

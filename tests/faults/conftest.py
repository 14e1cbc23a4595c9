"""The faults suite's reference: one fault-free sync of the synthetic corpus per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.harness import MatrixRow, Outcome, free_port, run_case


@pytest.fixture(scope="session")
def port() -> int:
    """The replica's port for the reference and every case (see ``harness.free_port``)."""
    return free_port()


@pytest.fixture(scope="session")
def reference(synth_snapshot: Path, tmp_path_factory: pytest.TempPathFactory, port: int
              ) -> Outcome:
    outcome = run_case(synth_snapshot, tmp_path_factory.mktemp("reference") / "mirror", None,
                       port=port)
    assert outcome.runs[0].errors == ()
    assert outcome.rows > 500 and outcome.files > 100  # a corpus worth comparing
    return outcome


_ROWS: list[MatrixRow] = []


@pytest.fixture
def matrix() -> list[MatrixRow]:
    """Where a matrix case records its numbers, printed as a table at the end of the run."""
    return _ROWS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _ROWS:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fault matrix")
    write(f"{'case':<46} {'faults injected':<28} {'rows':>6} {'files':>6} {'diffs':>6}")
    for row in _ROWS:
        fired = ", ".join(f"{k} x{n}" for k, n in sorted(row.injected.items())) or "-"
        write(f"{row.case:<46} {fired:<28} {row.rows:>6} {row.files:>6} {row.differences:>6}")

"""`ctmirror replica serve`: one-line errors, and a real serving process stopped by Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ctmirror.cli import main


def run_cli(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["ctmirror", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return int(exit_info.value.code or 0)


def test_missing_snapshot_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = run_cli(monkeypatch, "replica", "serve", "--snapshot", str(tmp_path / "nope"))
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert err.startswith("error: ") and "no snapshot.json" in err and "\n" not in err


def test_bad_fault_spec_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tiny_snapshot: Path
) -> None:
    code = run_cli(monkeypatch, "replica", "serve", "--snapshot", str(tiny_snapshot),
                   "--fault", "status=abc")
    err = capsys.readouterr().err.strip()
    assert code == 1 and "not an integer" in err and "\n" not in err


def test_serve_prints_the_base_url_and_stops_on_ctrl_c(tiny_snapshot: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", "from ctmirror.cli import main; main()", "replica", "serve",
         "--snapshot", str(tiny_snapshot), "--port", "0", "--fault", "status=503",
         "--fault", "first=1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        base_url = line.rsplit(" ", 1)[-1].strip()
        assert base_url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=base_url, timeout=10) as http:
            assert http.get("/api/v2/data/query.json?q=model::Donor").status_code == 503
            assert http.get("/api/v2/data/query.json?q=model::Donor").json()["total_rows"] == 2
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "Traceback" not in err
    assert process.returncode in (0, 130)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_serve_stops_on_a_signal_even_when_started_with_ctrl_c_ignored(
    tiny_snapshot: Path, stop_signal: signal.Signals
) -> None:
    # Shells start background jobs with SIGINT ignored, and the ignore survives exec.
    process = subprocess.Popen(
        [sys.executable, "-c", "from ctmirror.cli import main; main()", "replica", "serve",
         "--snapshot", str(tiny_snapshot), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().rsplit(" ", 1)[-1].strip()
        with httpx.Client(base_url=base_url, timeout=10) as http:
            assert http.get("/api/v2/data/query.json?q=model::Donor").status_code == 200
        process.send_signal(stop_signal)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "stopped" in out and "Traceback" not in err
    assert process.returncode == 0


def test_serve_verbose_logs_every_request(tiny_snapshot: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", "from ctmirror.cli import main; main()", "replica", "serve",
         "--snapshot", str(tiny_snapshot), "--port", "0", "-v"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().rsplit(" ", 1)[-1].strip()
        with httpx.Client(base_url=base_url, timeout=10) as http:
            assert http.get("/api/v2/data/query.json?q=model::Donor").status_code == 200
            assert http.get("/nothing/here").status_code == 404
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    requests = [line for line in err.splitlines() if "HTTP/1.1" in line]
    assert len(requests) == 2, err
    assert "GET /api/v2/data/query.json?q=model::Donor HTTP/1.1\" 200" in requests[0]
    assert "GET /nothing/here HTTP/1.1\" 404" in requests[1]

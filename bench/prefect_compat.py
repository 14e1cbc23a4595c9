"""ctmirror installed beside a lab's own, newer Prefect 3.

Makes a virtualenv, installs the newest Prefect 3 release the package index offers that installs
here (newest first; a release whose dependencies the index cannot satisfy is skipped and named),
then installs the ctmirror wheel into it and checks that pip left that Prefect version alone.
Then, against a synthetic replica on loopback, runs `ctmirror sync --no-prefect` and a Prefect
sync (the flow on the temporary server), and reports each one's exit status and time.

    python bench/prefect_compat.py [WORKDIR]       (default: build/prefect-compat)

Exits 1 if any check fails. Several minutes: pip resolves and downloads Prefect's dependencies.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload, no-any-return]


def prefect3_versions(python: str) -> list[str]:
    """Prefect 3 releases the index offers, newest first (no pre-releases)."""
    out = run([python, "-m", "pip", "index", "versions", "prefect"]).stdout
    match = re.search(r"Available versions: (.*)", out)
    if match is None:
        raise SystemExit(f"pip index versions prefect gave no list:\n{out}")
    return [v for v in match.group(1).split(", ") if re.fullmatch(r"3\.\d+\.\d+", v)]


def installed_prefect(python: Path) -> str:
    return run([str(python), "-c", "import prefect; print(prefect.__version__)"]).stdout.strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    work = Path(sys.argv[1] if len(sys.argv) > 1 else REPO / "build" / "prefect-compat").resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    failures: list[str] = []

    chosen = None
    for version in prefect3_versions(str(python)):
        started = time.monotonic()
        proc = run([str(python), "-m", "pip", "install", "--quiet", f"prefect=={version}"])
        if proc.returncode == 0:
            chosen = version
            print(f"prefect {version}: installed in {time.monotonic() - started:.0f} s")
            break
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        print(f"prefect {version}: does not install here ({last})")
    if chosen is None:
        print("no Prefect 3 release installs here")
        return 1

    wheels = work / "wheels"
    subprocess.run([str(python), "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels),
                    str(REPO)], check=True)
    [wheel] = wheels.glob("ctmirror-*.whl")
    started = time.monotonic()
    proc = run([str(python), "-m", "pip", "install", "--quiet", str(wheel)])
    print(f"ctmirror wheel: pip exit {proc.returncode} in {time.monotonic() - started:.0f} s")
    if proc.returncode != 0:
        print(proc.stderr[-2000:])
        return 1
    after = installed_prefect(python)
    print(f"prefect after installing the wheel: {after} (before: {chosen})")
    if after != chosen:
        failures.append(f"installing the wheel changed prefect {chosen} -> {after}")

    env = {k: v for k, v in os.environ.items() if not k.startswith(("CTMIRROR_", "PREFECT_"))}
    env |= {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
    ctmirror = str(venv / "bin" / "ctmirror")
    snapshot = work / "snapshot"
    subprocess.run([ctmirror, "corpus", "synth", "--out", str(snapshot), "--cells", "6",
                    "--nwb-cells", "1"], check=True, env=env, capture_output=True)
    port = free_port()
    replica = subprocess.Popen([ctmirror, "replica", "serve", "--snapshot", str(snapshot),
                                "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        base = f"http://127.0.0.1:{port}"
        for label, flag in (("--no-prefect", ["--no-prefect"]), ("prefect", [])):
            root = work / f"mirror{flag[0] if flag else '-prefect'}"
            started = time.monotonic()
            proc = run([ctmirror, "sync", *flag, "--api-base", base, "--root", str(root)],
                       env=env, timeout=900)
            seconds = time.monotonic() - started
            print(f"sync {label}: exit {proc.returncode} in {seconds:.0f} s")
            if proc.returncode != 0 or "Traceback" in proc.stderr:
                failures.append(f"sync {label} failed:\n{proc.stderr[-2000:]}")
    finally:
        replica.terminate()
        replica.wait(10)
    for failure in failures:
        print(failure)
    print("OK" if not failures else "FAILED")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""`make run` to its first page: on a fresh folder, then again with the database it left.

Runs the real `make run` (migrate, sync_course, demo logins, web server and worker) in a throwaway
var folder on a free port, and times from the command's start to the first 200 of the home page.
The first start builds the database and validates the whole course; each later one finds the
database up to date and every course file already validated (sync_course skips unchanged files).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from benchmarks.stats import print_table, summarize

ROOT = Path(__file__).resolve().parent.parent
RESTARTS = 3
DEADLINE_S = 300.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own server
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def time_to_first_page(var_dir: Path) -> float:
    """Start `make run` in var_dir, return the seconds until the home page answers, then stop it."""
    port = _free_port()
    environment = {
        **os.environ,
        "CHAINRULE_VAR_DIR": str(var_dir),
        "RUN_ADDRESS": f"127.0.0.1:{port}",
        "DEBUG": "1",
    }
    environment.pop("DATABASE_URL", None)  # the embedded default: SQLite under the var folder
    log_path = var_dir / "make-run.log"
    started = time.perf_counter()
    with log_path.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603
            ["make", "-s", "run"],  # noqa: S607
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        while not _answers(f"http://127.0.0.1:{port}/"):
            if process.poll() is not None:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"make run stopped with {process.returncode}:\n{tail}")
            if time.perf_counter() - started > DEADLINE_S:
                raise RuntimeError("make run served no page")
            time.sleep(0.05)
        return time.perf_counter() - started
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop make run and everything it started, as Ctrl-C would."""
    try:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="chainrule-start-") as folder:
        var_dir = Path(folder)
        first = time_to_first_page(var_dir)
        again = [time_to_first_page(var_dir) for _ in range(RESTARTS)]
    print_table(
        "make run → first page (seconds shown as ms)",
        [
            summarize("fresh folder (builds the database)", [first * 1000]),
            summarize("existing database, nothing changed", [s * 1000 for s in again]),
        ],
    )
    print(f"\n  existing database: median {sorted(again)[len(again) // 2]:.2f} s (target ≤ 5 s)")


if __name__ == "__main__":
    main()

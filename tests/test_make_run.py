"""A newcomer's `make run`: the site comes up, a demo student's answer is graded, Ctrl-C stops it all.

Runs the real Makefile target in its own process group on the embedded default (SQLite and the
filesystem broker under a var/ of the test's own), talks to it over HTTP like a browser without
JavaScript, and sends SIGINT to the group as a terminal's Ctrl-C would.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Browser:
    """A cookie-keeping HTTP client that fills in Django's CSRF token."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=30) as response:
            return response.read().decode()

    def post(self, path: str, fields: dict[str, str]) -> tuple[str, str]:
        token = next(c.value for c in self.cookies if c.name == "csrftoken")
        data = urllib.parse.urlencode({**fields, "csrfmiddlewaretoken": token}).encode()
        request = urllib.request.Request(
            self.base + path, data=data, headers={"Referer": self.base + path}
        )
        with self.opener.open(request, timeout=30) as response:
            return response.geturl(), response.read().decode()


@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "DATABASE_TEST_NAME", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        CHAINRULE_VAR_DIR=str(tmp_path / "var"),
        CELERY_BROKER_URL="filesystem://",
        DEBUG="1",
        PYTHONUNBUFFERED="1",
    )
    log = tmp_path / "make-run.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            ["make", "--no-print-directory", "run", f"RUN_ADDRESS=127.0.0.1:{port}"],  # noqa: S607
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process, f"http://127.0.0.1:{port}", log
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def wait_for_page(base: str, process: subprocess.Popen[bytes], log: Path) -> float:
    started = time.monotonic()
    while time.monotonic() - started < 180:
        assert process.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(base + "/", timeout=5) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:
            time.sleep(0.5)
    raise AssertionError("make run served no page within 180 s:\n" + log.read_text())


def processes_using(var_dir: Path) -> list[int]:
    """Return the pids whose environment names this test's var/ folder."""
    marker = f"CHAINRULE_VAR_DIR={var_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_make_run_serves_the_course_grades_an_answer_and_stops_on_ctrl_c(make_run, tmp_path):
    process, base, log = make_run
    wait_for_page(base, process, log)
    output = log.read_text()
    assert "chainrule-student" in output and "chainrule-instructor" in output  # the logins
    assert "filesystem" in output  # serve's line naming the database and broker in use

    browser = Browser(base)
    assert "Applied" in browser.get("/") and "Research" in browser.get("/")
    browser.get("/accounts/login/")
    url, _ = browser.post(
        "/accounts/login/", {"username": "student", "password": "chainrule-student"}
    )
    assert "/accounts/login/" not in url
    browser.get("/exercises/sigmoid-derivative/")
    url, page = browser.post("/exercises/sigmoid-derivative/", {"answer": "sigma(x)(1-sigma(x))"})
    match = re.search(r"/submissions/(\d+)/", url)
    assert match, url
    deadline = time.monotonic() + 60
    while 'data-verdict="correct"' not in page:
        assert time.monotonic() < deadline, "no verdict within 60 s:\n" + log.read_text()
        time.sleep(0.3)
        page = browser.get(f"/submissions/{match.group(1)}/")

    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
    assert process.wait(timeout=30) is not None
    deadline = time.monotonic() + 15
    while processes_using(tmp_path / "var") and time.monotonic() < deadline:
        time.sleep(0.3)
    assert processes_using(tmp_path / "var") == [], log.read_text()[-3000:]

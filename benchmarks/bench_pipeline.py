"""Submit-to-verdict latency of the whole pipeline: N students checking answers over HTTP.

Starts a web server and two Celery workers (one per queue) against PostgreSQL and Redis when they
answer (else SQLite and whatever broker the settings choose), signs N students in, and has each
submit a mix of expression and code answers the way the exercise page does (htmx POST, then
polling the status block). Prints p50/p95/p99 submit-to-verdict, throughput, and any submission
lost or stuck.
"""

from __future__ import annotations

import http.cookiejar
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

STATUS_URL = re.compile(r'hx-get="/submissions/(\d+)/status/"')
DATA_STATUS = re.compile(r'id="result"[^>]*data-status="(\w+)"')
DATA_VERDICT = re.compile(r'data-verdict="(\w+)"')
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class Response:
    status: int
    body: str
    url: str


@dataclass
class Outcome:
    submission_id: int
    status: str  # queued, running, finished, error (the submission's); "lost" if it never settled
    verdict: str | None
    seconds: float


class StudentSession:
    """One signed-in student talking to a running Chainrule over HTTP, as the exercise page does."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def _csrf(self) -> str:
        return next((c.value for c in self.jar if c.name == "csrftoken"), "")

    def request(
        self, path: str, data: dict[str, str] | None = None, *, htmx: bool = False
    ) -> Response:
        """GET (or POST form data to) a path; errors are responses too."""
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base_url + path, data=body)  # noqa: S310 - http only
        if data is not None:
            request.add_header("X-CSRFToken", self._csrf())
            request.add_header("Referer", self.base_url + path)
        if htmx:
            request.add_header("HX-Request", "true")
        try:
            with self.opener.open(request, timeout=self.timeout) as reply:
                return Response(reply.status, reply.read().decode(), reply.url)
        except urllib.error.HTTPError as error:
            return Response(error.code, error.read().decode(errors="replace"), error.url)

    def login(self, username: str, password: str) -> None:
        """Sign in through the login form; raise if the site does not accept the password."""
        form = self.request("/accounts/login/")
        token = CSRF_INPUT.search(form.body)
        reply = self.request(
            "/accounts/login/",
            {
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": token.group(1) if token else self._csrf(),
            },
        )
        if "/accounts/login/" in reply.url:
            raise RuntimeError(f"could not log in as {username}: HTTP {reply.status}")

    def submit(self, slug: str, answer: str) -> int:
        """Check an answer the way htmx does; return the new submission's id."""
        if not self._csrf():
            self.request(f"/exercises/{slug}/")
        reply = self.request(f"/exercises/{slug}/", {"answer": answer}, htmx=True)
        match = STATUS_URL.search(reply.body)
        if reply.status != 200 or match is None:
            raise RuntimeError(f"submission refused: HTTP {reply.status}: {reply.body[:300]}")
        return int(match.group(1))

    def status(self, submission_id: int) -> tuple[str, str | None]:
        """Return a submission's status and verdict as its status block shows them."""
        reply = self.request(f"/submissions/{submission_id}/status/", htmx=True)
        state = DATA_STATUS.search(reply.body)
        verdict = DATA_VERDICT.search(reply.body)
        return (state.group(1) if state else f"http-{reply.status}"), (
            verdict.group(1) if verdict else None
        )

    def wait(self, submission_id: int, *, timeout: float, interval: float = 0.05) -> Outcome:
        """Poll the status block until the verdict arrives or timeout seconds pass."""
        started = time.perf_counter()
        state, verdict = "queued", None
        while time.perf_counter() - started < timeout:
            state, verdict = self.status(submission_id)
            if state in ("finished", "error"):
                break
            time.sleep(interval)
        return Outcome(submission_id, state, verdict, time.perf_counter() - started)

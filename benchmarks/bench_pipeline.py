"""Submit-to-verdict latency of the whole pipeline: N students checking answers over HTTP.

Starts a web server and two Celery workers (one per queue) against PostgreSQL and Redis when they
answer (else SQLite and whatever broker the settings choose), signs N students in, and has each
submit a mix of expression and code answers the way the exercise page does (htmx POST, then
polling the status block). Prints p50/p95/p99 submit-to-verdict, throughput, and any submission
lost or stuck.
"""

from __future__ import annotations

import http.cookiejar
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.stats import print_table, summarize

ROOT = Path(__file__).resolve().parent.parent
STUDENTS = int(os.environ.get("CHAINRULE_BENCH_STUDENTS", "20"))
# Pool processes of the symbolic worker (the code worker has one).
SYMBOLIC_CONCURRENCY = int(os.environ.get("CHAINRULE_BENCH_SYMBOLIC_CONCURRENCY", "1"))
ROUNDS = int(os.environ.get("CHAINRULE_BENCH_ROUNDS", "5"))
# Pause between a verdict and the next answer: a quick student re-reading the feedback. (At under a
# second per answer, 20 students offer more symbolic work than two cores can grade, and the
# figures measure the queue's length instead of the pipeline.)
THINK_SECONDS = (
    float(os.environ.get("CHAINRULE_BENCH_THINK_MIN", "2")),
    float(os.environ.get("CHAINRULE_BENCH_THINK_MAX", "6")),
)
# Like the page: ask for the verdict at once (the server holds the request until it is ready),
# and again GRADER_POLL_MS after a request that ended with the submission still pending.
POLL_SECONDS = 0.1
VERDICT_TIMEOUT = 60.0
TARGET_P50_MS = 250.0
TARGET_P95_MS = 800.0
PASSWORD = "bench-pass-phrase-1"  # noqa: S105 - throwaway benchmark users
REDIS_DB = 12
# (exercise slug, answer, expected verdict): a mix of right, wrong, unreadable, and code.
RELU_RIGHT = (
    "import numpy as np\n\ndef relu_backward(x, grad_out):\n    return grad_out * (x > 0)\n"
)
RELU_WRONG = (
    "import numpy as np\n\ndef relu_backward(x, grad_out):\n    return (x > 0).astype(float)\n"
)
ANSWERS = [
    ("sigmoid-derivative", "sigma(x)", "incorrect"),
    ("relu-backward", RELU_WRONG, "incorrect"),
    ("sigmoid-derivative", "sigma(x)*(1-sigma(x))", "correct"),
    ("sigmoid-derivative", "sigma(x", "invalid"),
    ("relu-backward", RELU_RIGHT, "correct"),
    ("sigmoid-derivative", "exp(-x)/(1+exp(-x))^2", "correct"),
]

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


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.3):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _postgres(statement: str) -> None:
    """Run one statement on the local PostgreSQL server (trust auth) outside a transaction."""
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as db:
        db.execute(statement)  # type: ignore[arg-type]


SETUP = """
import django
django.setup()
from pathlib import Path
import yaml
from course.models import Exercise, Lesson, Module, Track, TrackModule, User
track = Track.objects.create(slug="bench", title="Bench")
module = Module.objects.create(slug="bench", title="Bench", skill="Benchmarking")
TrackModule.objects.create(track=track, module=module, order=0)
lesson = Lesson.objects.create(module=module, slug="bench", title="Bench", order=1)
for slug in ("sigmoid-derivative", "relu-backward"):
    spec = yaml.safe_load(next(Path("exercises").glob(f"*/*/{slug}.yaml")).read_text())
    Exercise.objects.create(lesson=lesson, slug=slug, title=spec["title"], kind=spec["kind"], spec=spec)
for i in range(int(__import__("os").environ["BENCH_STUDENTS"])):
    User.objects.create_user(f"bench{i}", password=__import__("os").environ["BENCH_PASSWORD"])
"""

COUNT = """
import django
django.setup()
from grader.models import Submission
for s in Submission.objects.all():
    ms = lambda a, b: (b - a).total_seconds() * 1000 if a and b else -1
    print(s.status, s.queue, f"{ms(s.created_at, s.finished_at):.3f}", f"{ms(s.enqueued_at, s.claimed_at):.3f}",
          f"{s.grading_ms or -1:.3f}", f"{ms(s.claimed_at, s.finished_at):.3f}")
"""


@dataclass
class Site:
    """The processes of one benchmark site and the environment they share."""

    url: str
    env: dict[str, str]
    backends: str
    workdir: Path
    processes: list[subprocess.Popen] = field(default_factory=list)

    def manage(self, *args: str) -> str:
        """Run manage.py or a Python snippet against the benchmark's database; return its output."""
        result = subprocess.run(  # noqa: S603 - our own argv
            [sys.executable, *args], cwd=ROOT, env=self.env, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def start(self, name: str, command: list[str]) -> None:
        log = (self.workdir / f"{name}.log").open("ab")
        process = subprocess.Popen(  # noqa: S603 - our own argv
            command,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def _wait(condition: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise RuntimeError(f"timed out waiting for {what}")


def _site_env(workdir: Path, tag: str) -> dict[str, str]:
    return {
        **os.environ,
        "DEBUG": "1",
        "CHAINRULE_VAR_DIR": str(workdir),
        "GRADER_SYMBOLIC_QUEUE": f"{tag}-symbolic",
        "GRADER_CODE_QUEUE": f"{tag}-code",
        "BENCH_STUDENTS": str(STUDENTS),
        "BENCH_PASSWORD": PASSWORD,
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }


@contextmanager
def running_site() -> Iterator[Site]:
    """Start gunicorn and two Celery workers (symbolic, code) on fresh storage; stop them after."""
    workdir = Path(tempfile.mkdtemp(prefix="chainrule-bench-"))
    tag = f"bench{os.getpid()}"
    env = _site_env(workdir, tag)
    pg_name = f"chainrule_{tag}"
    postgres = _answers("127.0.0.1", 5432)
    if postgres:
        _postgres(f"CREATE DATABASE {pg_name}")
        env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{pg_name}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    redis_url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    env["CELERY_BROKER_URL"] = redis_url if _answers("127.0.0.1", 6379) else "filesystem://"
    port = _free_port()
    broker = "Redis" if env["CELERY_BROKER_URL"].startswith("redis") else "filesystem broker"
    site = Site(
        url=f"http://127.0.0.1:{port}",
        env=env,
        backends=f"{'PostgreSQL' if postgres else 'SQLite'} + {broker}",
        workdir=workdir,
    )
    celery = [sys.executable, "-m", "celery", "-A", "config", "worker"]
    celery += ["--without-gossip", "--without-mingle", "--loglevel", "INFO"]
    try:
        site.manage("manage.py", "migrate", "--noinput", "-v0")
        site.manage("-c", SETUP)
        site.start(
            "symbolic",
            [*celery, "--queues", env["GRADER_SYMBOLIC_QUEUE"], "--hostname", f"{tag}-symbolic@%h"]
            + ["--concurrency", str(SYMBOLIC_CONCURRENCY)]
            + ["--beat", "--schedule", str(workdir / "beat-schedule")],
        )
        site.start(
            "code",
            [*celery, "--queues", env["GRADER_CODE_QUEUE"], "--hostname", f"{tag}-code@%h"]
            + ["--concurrency", "1"],
        )
        site.start(
            "web",
            [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}"]
            + ["--workers", "2", "--threads", "16", "--worker-class", "gthread"],
        )
        for name in ("symbolic", "code"):
            _wait(lambda name=name: " ready." in site.log(name), f"the {name} worker")
        _wait(lambda: _answers("127.0.0.1", port), "the web server")
        yield site
    finally:
        site.stop()
        if postgres:
            _postgres(f"DROP DATABASE IF EXISTS {pg_name} WITH (FORCE)")
        if broker == "Redis":
            import redis

            client = redis.Redis(db=REDIS_DB)
            for key in client.scan_iter(f"{tag}-*"):
                client.delete(key)
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class Record:
    slug: str
    expected: str
    outcome: Outcome
    submit_ms: float


def student(
    site: Site, index: int, results: list[Record], errors: list[str], start: threading.Barrier
) -> None:
    """Sign in, then check ROUNDS answers with a pause after each verdict."""
    rng = random.Random(index)
    session = StudentSession(site.url, timeout=30)
    try:
        session.login(f"bench{index}", PASSWORD)
        for slug in sorted({slug for slug, _, _ in ANSWERS}):
            session.request(f"/exercises/{slug}/")
    except Exception as exc:  # noqa: BLE001 - reported with the figures
        errors.append(f"student {index}: {exc}")
        start.wait()
        return
    start.wait()
    time.sleep(rng.uniform(0, THINK_SECONDS[1]))  # students do not all press Check at once
    for round_ in range(ROUNDS):
        slug, answer, expected = ANSWERS[(index + round_) % len(ANSWERS)]
        began = time.perf_counter()
        try:
            submission_id = session.submit(slug, answer)
        except Exception as exc:  # noqa: BLE001 - reported with the figures
            errors.append(f"student {index}: {exc}")
            continue
        submitted = time.perf_counter()
        outcome = session.wait(submission_id, timeout=VERDICT_TIMEOUT, interval=POLL_SECONDS)
        outcome.seconds = time.perf_counter() - began
        results.append(Record(slug, expected, outcome, (submitted - began) * 1000))
        time.sleep(rng.uniform(*THINK_SECONDS))


def main() -> None:
    print(f"{STUDENTS} students x {ROUNDS} answers; starting gunicorn and two Celery workers…")
    load_before = os.getloadavg()[0]
    with running_site() as site:
        print(f"backends: {site.backends}; site at {site.url}", flush=True)
        warm = StudentSession(site.url)
        warm.login("bench0", PASSWORD)
        for slug, answer, _ in ANSWERS[:2]:  # the first grade of each kind, outside the figures
            warm.wait(warm.submit(slug, answer), timeout=VERDICT_TIMEOUT)
        results: list[Record] = []
        errors: list[str] = []
        barrier = threading.Barrier(STUDENTS + 1)
        threads = [
            threading.Thread(target=student, args=(site, i, results, errors, barrier), daemon=True)
            for i in range(STUDENTS)
        ]
        for thread in threads:
            thread.start()
        barrier.wait()
        began = time.perf_counter()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - began
        time.sleep(1.0)
        rows = [line.split() for line in site.manage("-c", COUNT).splitlines() if line.strip()]
    report(results, errors, rows, wall)
    cores = os.cpu_count() or 1
    print(
        f"  machine: {cores} cores; 1-minute load average {load_before:.1f} before the run, "
        f"{os.getloadavg()[0]:.1f} after (other processes on the machine slow every figure)"
    )


def report(results: list[Record], errors: list[str], rows: list[list[str]], wall: float) -> None:
    """Print the latency table, throughput, and every submission lost, stuck or misjudged."""
    settled = [r for r in results if r.outcome.status in ("finished", "error")]
    unsettled = [r for r in results if r.outcome.status not in ("finished", "error")]
    wrong = [r for r in settled if r.outcome.verdict != r.expected]
    seconds = [r.outcome.seconds * 1000 for r in settled]
    series = [summarize("submit-to-verdict, all (as a student sees it)", seconds)]
    for slug in sorted({r.slug for r in settled}):
        ms = [r.outcome.seconds * 1000 for r in settled if r.slug == slug]
        series.append(summarize(f"  {slug}", ms))
    series.append(
        summarize("POST /exercises/<slug>/ (submit only)", [r.submit_ms for r in results])
    )
    columns = (
        (2, "created → finished"),
        (3, "  waiting in the queue"),
        (5, "  claimed → finished"),
        (4, "    grading (engine)"),
    )
    for column, name in columns:
        for kind in ("symbolic", "code"):
            values = [
                float(r[column]) for r in rows if r[1].endswith(kind) and float(r[column]) >= 0
            ]
            if values:
                series.append(summarize(f"{name}, {kind} queue", values))
    print_table("Pipeline latency (server-side rows include the two warm-up submissions)", series)
    pending = [row for row in rows if row[0] in ("queued", "running")]
    gave_up = [row for row in rows if row[0] == "error"]
    print(f"\n  submissions: {len(results)} measured, {len(rows)} in the database")
    print(f"  throughput: {len(settled) / wall:.1f} verdicts/s over {wall:.1f} s")
    print(
        f"  lost (no verdict within {VERDICT_TIMEOUT:.0f} s): {len(unsettled)}; "
        f"stuck in queued/running: {len(pending)}; could not be graded: {len(gave_up)}"
    )
    print(f"  verdicts different from expected: {len(wrong)}; client errors: {len(errors)}")
    mismatches = [f"{r.slug}: expected {r.expected}, got {r.outcome.verdict}" for r in wrong]
    for line in errors[:5] + mismatches[:5]:
        print(f"    {line}")
    if not seconds:
        return
    p50, p95 = series[0]["p50"], series[0]["p95"]
    met = p50 <= TARGET_P50_MS and p95 <= TARGET_P95_MS and not unsettled and not pending
    print(
        f"  targets p50 <= {TARGET_P50_MS:.0f} ms, p95 <= {TARGET_P95_MS:.0f} ms, none lost or "
        f"stuck: {'met' if met else 'NOT met'}"
    )

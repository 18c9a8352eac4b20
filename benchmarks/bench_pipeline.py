"""Submit-to-verdict latency of the whole pipeline: N students checking answers over HTTP.

`python -m benchmarks pipeline [--students N] [--json] [...]` (`--help` lists the options); without
options (as `make bench` runs it), three classes in turn — 100 and 300 students with pauses, and 60
without (saturation) — side by side with their targets. Starts
the production shape of the site on fresh storage — gunicorn with uvicorn workers serving
config.asgi, one Celery worker per queue — against PostgreSQL and Redis when they answer (else
SQLite and whatever broker the settings choose). The students are made in bulk with unusable
passwords and signed in by sessions made on the server, so a class of 300 costs no password
hashes. Each student submits a mix of expression and code answers the way the exercise page does
(an htmx POST the server holds until the verdict, then a status request only if it answered
pending) with a pause to read each verdict.

Reports p50/p95/p99 submit-to-verdict, verdicts per second, every submission lost (no verdict in
time), stuck (still queued or running in the database) or wrong (not the expected verdict), and the
time of each stage: waiting in the queue, the claim, grading, recording the verdict (the worker logs
these: grader.services `submission_stages`) and delivering it (from the worker's commit until the
student has it). With --json the last line of output is all of that as one JSON object. The run's
queues, bindings, worker mailboxes and unacknowledged messages are removed from Redis afterwards,
and whatever of the run is still there is counted (`redis_keys_left`, 0 when clean).
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
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
from typing import Any

from benchmarks.stats import percentile, print_table, summarize

ROOT = Path(__file__).resolve().parent.parent
# The web tier as README.md's production instructions run it (tests/test_readme.py compares).
WEB_WORKER_CLASS = "uvicorn_worker.UvicornWorker"
WEB_WORKERS = 3
VERDICT_TIMEOUT = 60.0
# Like the page: ask for the verdict at once (the server holds the request until it is ready),
# and again GRADER_POLL_MS after a request that ended with the submission still pending.
POLL_SECONDS = 0.1
REDIS_DB = int(os.environ.get("CHAINRULE_BENCH_REDIS_DB", "12"))
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
STAGES = ("queue_wait", "claim", "grade", "record", "deliver")

SUBMISSION_ID = re.compile(r'id="result"[^>]*data-submission="(\d+)"')
DATA_STATUS = re.compile(r'id="result"[^>]*data-status="(\w+)"')
DATA_VERDICT = re.compile(r'data-verdict="(\w+)"')
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
STAGE_LINE = re.compile(
    r"submission_stages submission_id=(\d+) queue_ms=([-\d.]+) claim_ms=([-\d.]+) "
    r"grade_ms=([-\d.]+) record_ms=([-\d.]+) committed_at=([\d.]+)"
)


@dataclass
class Options:
    students: int
    rounds: int
    think: tuple[float, float]
    web_workers: int
    symbolic_concurrency: int
    code_concurrency: int
    json: bool


def parse_options(argv: list[str]) -> Options:
    """Read the command line (defaults from CHAINRULE_BENCH_* variables, as `make bench` sets)."""
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="python -m benchmarks pipeline")
    parser.add_argument("--students", type=int, default=int(env("CHAINRULE_BENCH_STUDENTS", "20")))
    parser.add_argument("--rounds", type=int, default=int(env("CHAINRULE_BENCH_ROUNDS", "5")))
    # Pause between a verdict and the next answer: a quick student re-reading the feedback.
    parser.add_argument(
        "--think-min", type=float, default=float(env("CHAINRULE_BENCH_THINK_MIN", "2"))
    )
    parser.add_argument(
        "--think-max", type=float, default=float(env("CHAINRULE_BENCH_THINK_MAX", "6"))
    )
    parser.add_argument("--web-workers", type=int, default=WEB_WORKERS)
    parser.add_argument(
        "--symbolic-concurrency",
        type=int,
        default=int(env("CHAINRULE_BENCH_SYMBOLIC_CONCURRENCY", "2")),
        help="pool processes of the symbolic worker",
    )
    parser.add_argument(
        "--code-concurrency",
        type=int,
        default=int(env("CHAINRULE_BENCH_CODE_CONCURRENCY", "1")),
        help="pool processes of the code worker",
    )
    parser.add_argument("--json", action="store_true", help="end with one line of JSON")
    args = parser.parse_args(argv)
    if args.students < 1 or args.rounds < 1 or not 0 <= args.think_min <= args.think_max:
        parser.error("need at least one student and round, and 0 <= --think-min <= --think-max")
    return Options(
        students=args.students,
        rounds=args.rounds,
        think=(args.think_min, args.think_max),
        web_workers=args.web_workers,
        symbolic_concurrency=args.symbolic_concurrency,
        code_concurrency=args.code_concurrency,
        json=args.json,
    )


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
    received_at: float  # wall-clock time the student had the verdict (or gave up)


class StudentSession:
    """One signed-in student talking to a running Chainrule over HTTP, as the exercise page does."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def use_session(self, key: str, name: str = "sessionid") -> None:
        """Be signed in by a session made on the server (no login form, no password hash)."""
        host = urllib.parse.urlsplit(self.base_url).hostname or "127.0.0.1"
        self.jar.set_cookie(
            http.cookiejar.Cookie(
                0,
                name,
                key,
                None,
                False,
                host,
                False,
                False,
                "/",
                True,
                False,
                None,
                False,
                None,
                None,
                {},
            )
        )

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

    def check(self, slug: str, answer: str) -> tuple[int, str, str | None]:
        """Check an answer the way the page's htmx does (the server holds the post until the
        verdict, or answers pending); return the submission's id, status and verdict."""
        submission_id, reply = self._post_answer(f"/exercises/{slug}/check/", slug, answer)
        return submission_id, *_status_of(reply)

    def submit(self, slug: str, answer: str) -> int:
        """Post an answer to the exercise page with htmx, which answers at once (not held);
        return the new submission's id."""
        return self._post_answer(f"/exercises/{slug}/", slug, answer)[0]

    def _post_answer(self, path: str, slug: str, answer: str) -> tuple[int, Response]:
        if not self._csrf():
            self.request(f"/exercises/{slug}/")
        reply = self.request(path, {"answer": answer}, htmx=True)
        found = SUBMISSION_ID.search(reply.body)
        if reply.status != 200 or found is None:
            raise RuntimeError(f"submission refused: HTTP {reply.status}: {reply.body[:300]}")
        return int(found.group(1)), reply

    def answer(self, slug: str, answer: str, *, timeout: float) -> Outcome:
        """Check an answer and wait for its verdict, as a learner on the exercise page does."""
        began = time.perf_counter()
        submission_id, state, verdict = self.check(slug, answer)
        outcome = self.wait(submission_id, timeout=timeout, state=state, verdict=verdict)
        outcome.seconds = time.perf_counter() - began
        return outcome

    def status(self, submission_id: int) -> tuple[str, str | None]:
        """Return a submission's status and verdict as its status block shows them."""
        return _status_of(self.request(f"/submissions/{submission_id}/status/", htmx=True))

    def wait(
        self,
        submission_id: int,
        *,
        timeout: float,
        interval: float = 0.05,
        state: str = "queued",
        verdict: str | None = None,
    ) -> Outcome:
        """Ask for the status block until the verdict arrives or timeout seconds pass (a verdict
        already in hand, from the check itself, ends it at once)."""
        started = time.perf_counter()
        while state not in ("finished", "error") and time.perf_counter() - started < timeout:
            state, verdict = self.status(submission_id)
            if state in ("finished", "error"):
                break
            time.sleep(interval)
        return Outcome(submission_id, state, verdict, time.perf_counter() - started, time.time())


def _status_of(reply: Response) -> tuple[str, str | None]:
    state = DATA_STATUS.search(reply.body)
    verdict = DATA_VERDICT.search(reply.body)
    return (state.group(1) if state else f"http-{reply.status}"), (
        verdict.group(1) if verdict else None
    )


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


# Students in one bulk insert with unusable passwords, each signed in by a session made here (as
# the test client's force_login does): no password is hashed. Prints one session key a line.
SETUP = """
import os
from importlib import import_module
from pathlib import Path
import django
django.setup()
import yaml
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.hashers import make_password
from course.models import Exercise, Lesson, Module, Track, TrackModule, User
from course.usernames import username_key
track = Track.objects.create(slug="bench", title="Bench")
module = Module.objects.create(slug="bench", title="Bench", skill="Benchmarking")
TrackModule.objects.create(track=track, module=module, order=0)
lesson = Lesson.objects.create(module=module, slug="bench", title="Bench", order=1)
for slug in ("sigmoid-derivative", "relu-backward"):
    spec = yaml.safe_load(next(Path("exercises").glob(f"*/*/{slug}.yaml")).read_text())
    Exercise.objects.create(lesson=lesson, slug=slug, title=spec["title"], kind=spec["kind"], spec=spec)
count = int(os.environ["BENCH_STUDENTS"])
User.objects.bulk_create(
    User(username=f"bench{i}", username_key=username_key(f"bench{i}"), password=make_password(None))
    for i in range(count)
)
store_class = import_module(settings.SESSION_ENGINE).SessionStore
backend = settings.AUTHENTICATION_BACKENDS[0]
for user in User.objects.filter(username__startswith="bench").order_by("pk"):
    store = store_class()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = backend
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.save()
    print(user.username, store.session_key)
"""

ROWS = """
import django
django.setup()
from grader.models import Submission
for s in Submission.objects.all():
    print(s.pk, s.status, s.queue)
"""


@dataclass
class Site:
    """The processes of one benchmark site and the environment they share."""

    url: str
    env: dict[str, str]
    backends: str
    workdir: Path
    tag: str
    sessions: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen] = field(default_factory=list)
    parts: dict[int, str] = field(default_factory=dict)  # a started process's pid: its name

    def manage(self, *args: str) -> str:
        """Run manage.py or a Python snippet against the benchmark's database; return its output."""
        result = subprocess.run(  # noqa: S603 - our own argv
            [sys.executable, *args], cwd=ROOT, env=self.env, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def start(self, name: str, command: list[str], **env: str) -> None:
        log = (self.workdir / f"{name}.log").open("ab")
        process = subprocess.Popen(  # noqa: S603 - our own argv
            command,
            cwd=ROOT,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        self.parts[process.pid] = name

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


def _site_env(workdir: Path, tag: str, options: Options) -> dict[str, str]:
    return {
        **os.environ,
        "DEBUG": os.environ.get("BENCH_DEBUG", "0"),
        "SECRET_KEY": "bench-" + tag,
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "CHAINRULE_VAR_DIR": str(workdir),
        "GRADER_SYMBOLIC_QUEUE": f"{tag}-symbolic",
        "GRADER_CODE_QUEUE": f"{tag}-code",
        "BENCH_STUDENTS": str(options.students),
        # As README.md says: the code jobs on the broker or running at once, one per code process.
        "GRADER_CODE_SLOTS": str(options.code_concurrency),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }


def web_command(port: int, workers: int) -> list[str]:
    """Return the web server's command line: README.md's production one, on a local port."""
    command = [sys.executable, "-m", "gunicorn", "config.asgi", "--bind", f"127.0.0.1:{port}"]
    return command + ["--worker-class", WEB_WORKER_CLASS, "--workers", str(workers)]


@contextmanager
def running_site(options: Options) -> Iterator[Site]:
    """Start the web server and two Celery workers (symbolic, code) on fresh storage; stop them after."""
    workdir = Path(tempfile.mkdtemp(prefix="chainrule-bench-"))
    tag = f"bench{os.getpid()}"
    env = _site_env(workdir, tag, options)
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
        tag=tag,
    )
    celery = [sys.executable, "-m", "celery", "-A", "config", "worker"]
    celery += ["--without-gossip", "--without-mingle", "--loglevel", "INFO"]
    try:
        site.manage("manage.py", "migrate", "--noinput", "-v0")
        site.manage("manage.py", "collectstatic", "--noinput", "-v0")
        for line in site.manage("-c", SETUP).splitlines():
            username, key = line.split()
            site.sessions[username] = key
        # The workers log at INFO, as in production: their submission_stages lines are read back.
        site.start(
            "symbolic",
            [*celery, "--queues", env["GRADER_SYMBOLIC_QUEUE"], "--hostname", f"{tag}-symbolic@%h"]
            + ["--concurrency", str(options.symbolic_concurrency)]
            + ["--beat", "--schedule", str(workdir / "beat-schedule")],
            LOG_LEVEL="INFO",
        )
        site.start(
            "code",
            [*celery, "--queues", env["GRADER_CODE_QUEUE"], "--hostname", f"{tag}-code@%h"]
            + ["--concurrency", str(options.code_concurrency)],
            LOG_LEVEL="INFO",
        )
        site.start("web", web_command(port, options.web_workers))
        for name in ("symbolic", "code"):
            _wait(lambda name=name: " ready." in site.log(name), f"the {name} worker")
        _wait(lambda: _answers("127.0.0.1", port), "the web server")
        yield site
    finally:
        site.stop()
        if postgres:
            _postgres(f"DROP DATABASE IF EXISTS {pg_name} WITH (FORCE)")
        shutil.rmtree(workdir, ignore_errors=True)


def redis_keys() -> set[bytes]:
    """Return the names of the keys in the benchmark's Redis database (empty without Redis)."""
    import redis

    try:
        return set(redis.Redis(db=REDIS_DB).scan_iter())
    except redis.RedisError:
        return set()


def redis_cleanup(tag: str, before: set[bytes]) -> tuple[int, list[str]]:
    """Remove what the run left in Redis; return how much of it remains, and the new keys.

    The run's queues and bindings are named after its tag; its workers' mailboxes join the shared
    `_kombu.binding.*` sets under host names that carry the tag, kombu notes an expiry for each
    binding set in `_kombu.binding_deadlines`, and a message still unacknowledged sits in the
    shared `unacked` hash (with its delivery tag in `unacked_index`) naming the run's queue.
    Others' members are left alone. The first number counts what still names the run (0 when
    clean); the list names keys that were not there before the run and name no run — made by the
    run, or by another one meanwhile.
    """
    import redis

    client = redis.Redis(db=REDIS_DB)
    mark = tag.encode()
    try:
        for key in client.scan_iter(f"*{tag}*"):
            client.delete(key)
        for key in client.scan_iter("_kombu.binding.*"):
            if client.type(key) == b"set":
                ours = [m for m in client.smembers(key) if mark in m]
                if ours:
                    client.srem(key, *ours)
        # An expiry noted for a binding set that is gone now (emptied above) is the run's too.
        for name in client.zrange("_kombu.binding_deadlines", 0, -1):
            if not client.exists(b"_kombu.binding." + name):
                client.zrem("_kombu.binding_deadlines", name)
        for delivery, message in client.hgetall("unacked").items():
            if mark in message:
                client.hdel("unacked", delivery)
                client.zrem("unacked_index", delivery)
        remaining = sum(1 for _ in client.scan_iter(f"*{tag}*"))
        for key in client.scan_iter("_kombu.binding.*"):
            if client.type(key) == b"set":
                remaining += sum(1 for m in client.smembers(key) if mark in m)
        remaining += sum(1 for m in client.hvals("unacked") if mark in m)
        new = set(client.scan_iter()) - before
        named = [k for k in new if b"bench" not in k and k not in (b"unacked", b"unacked_index")]
        return remaining, sorted(k.decode(errors="replace") for k in named)
    except redis.RedisError as error:
        return 0, [f"(Redis failed: {error})"]


@dataclass
class Record:
    slug: str
    expected: str
    outcome: Outcome
    submit_ms: float


def student(
    site: Site,
    options: Options,
    index: int,
    results: list[Record],
    errors: list[str],
    start: threading.Barrier,
) -> None:
    """Open the exercises, then check options.rounds answers with a pause after each verdict."""
    rng = random.Random(index)
    # Opening the page before the start is not measured: all students open theirs at once, and
    # with hundreds of them on a small machine that takes a while.
    session = StudentSession(site.url, timeout=VERDICT_TIMEOUT)
    session.use_session(site.sessions[f"bench{index}"])
    try:
        slug = ANSWERS[index % len(ANSWERS)][0]
        reply = session.request(f"/exercises/{slug}/")
        if reply.status != 200:
            raise RuntimeError(f"GET /exercises/{slug}/: HTTP {reply.status}")
        session.timeout = 30
    except Exception as exc:  # noqa: BLE001 - reported with the figures
        errors.append(f"student {index}: {exc}")
        start.wait()
        return
    start.wait()
    time.sleep(rng.uniform(0, options.think[1]))  # students do not all press Check at once
    for round_ in range(options.rounds):
        slug, answer, expected = ANSWERS[(index + round_) % len(ANSWERS)]
        began = time.perf_counter()
        try:
            submission_id, state, verdict = session.check(slug, answer)
        except Exception as exc:  # noqa: BLE001 - reported with the figures
            errors.append(f"student {index}: {exc}")
            continue
        submitted = time.perf_counter()
        outcome = session.wait(
            submission_id,
            timeout=VERDICT_TIMEOUT,
            interval=POLL_SECONDS,
            state=state,
            verdict=verdict,
        )
        outcome.seconds = time.perf_counter() - began
        results.append(Record(slug, expected, outcome, (submitted - began) * 1000))
        time.sleep(rng.uniform(*options.think))


# What `make bench` runs (no options): a class of 100 and one of 300 answering with pauses, and
# 60 students answering without any pause (the site's saturation), with issue 17's targets.
COHORTS = (
    ("100 students", ["--students", "100", "--rounds", "2"]),
    ("300 students", ["--students", "300", "--rounds", "2"]),
    ("saturation", ["--students", "60", "--rounds", "5", "--think-min", "0", "--think-max", "0"]),
)
TARGET_P95_MS = {"100 students": 400.0, "300 students": 1500.0}
TARGET_SATURATION_PER_S = 45.0


def main(argv: list[str] | None = None) -> None:
    """One run with the options given; with none, the cohorts and their targets."""
    if argv:
        run(parse_options(argv))
        return
    summaries = {}
    for name, cohort in COHORTS:
        print(f"\n--- {name} ---", flush=True)
        summaries[name] = run(parse_options(cohort))
    print_cohorts(summaries)


def print_cohorts(summaries: dict[str, dict[str, Any]]) -> None:
    """Print the cohorts side by side and say which targets held."""
    print("\nCohorts (submit-to-verdict as the students saw it)")
    print(
        f"  {'cohort':14s} {'p50 ms':>9s} {'p95 ms':>9s} {'p99 ms':>9s} {'verdicts/s':>11s}  lost/stuck/wrong"
    )
    for name, summary in summaries.items():
        latency = summary["submit_to_verdict_ms"]
        print(
            f"  {name:14s} {latency['p50'] or 0:9.0f} {latency['p95'] or 0:9.0f} "
            f"{latency['p99'] or 0:9.0f} {summary['verdicts_per_s']:11.1f}  "
            f"{summary['lost']}/{summary['stuck']}/{summary['wrong']}"
        )
    checks = []
    for name, limit in TARGET_P95_MS.items():
        p95 = summaries[name]["submit_to_verdict_ms"]["p95"] or float("inf")
        checks.append((f"{name}: p95 {p95:.0f} ms <= {limit:.0f} ms", p95 <= limit))
    rate = summaries["saturation"]["verdicts_per_s"]
    checks.append(
        (
            f"saturation: {rate:.1f} verdicts/s >= {TARGET_SATURATION_PER_S:.0f}",
            rate >= TARGET_SATURATION_PER_S,
        )
    )
    faults = sum(s["lost"] + s["stuck"] + s["wrong"] for s in summaries.values())
    checks.append((f"lost, stuck or wrong verdicts in all cohorts: {faults}", faults == 0))
    for text, met in checks:
        print(f"  [{'ok' if met else 'MISSED'}] {text}")


def run(options: Options) -> dict[str, Any]:
    """Run one class against a fresh site; print its figures and return them."""
    print(
        f"{options.students} students x {options.rounds} answers; web: gunicorn with "
        f"{options.web_workers} uvicorn workers; workers: symbolic x{options.symbolic_concurrency}, "
        f"code x{options.code_concurrency}",
        flush=True,
    )
    load_before = os.getloadavg()[0]
    keys_before = redis_keys()
    with running_site(options) as site:
        print(f"backends: {site.backends}; site at {site.url}", flush=True)
        warm = StudentSession(site.url)
        warm.use_session(site.sessions["bench0"])
        for slug, answer, _ in ANSWERS[:2]:  # the first grade of each kind, outside the figures
            warm.answer(slug, answer, timeout=VERDICT_TIMEOUT)
        results: list[Record] = []
        errors: list[str] = []
        barrier = threading.Barrier(options.students + 1)
        threads = [
            threading.Thread(
                target=student, args=(site, options, i, results, errors, barrier), daemon=True
            )
            for i in range(options.students)
        ]
        for thread in threads:
            thread.start()
        barrier.wait()
        began = time.perf_counter()
        cpu_before = cpu_by_part(site)
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - began
        cpu_spent = cpu_by_part(site)
        time.sleep(1.0)
        rows = [line.split() for line in site.manage("-c", ROWS).splitlines() if line.strip()]
        stages = read_stages(site.log("symbolic") + site.log("code"))
        tag = site.tag
        server_errors = _errors_in(site.log("web"))
    summary = report(results, errors, rows, stages, wall)
    verdicts = max(sum(1 for r in results if r.outcome.status in ("finished", "error")), 1)
    summary["cpu_ms_per_verdict"] = {
        part: round((cpu_spent[part] - cpu_before.get(part, 0.0)) / verdicts, 1)
        for part in cpu_spent
    }
    print(
        "  CPU per verdict (ms; each part's processes and the children they reaped): "
        + ", ".join(f"{part} {ms}" for part, ms in summary["cpu_ms_per_verdict"].items())
    )
    concurrency = {"symbolic": options.symbolic_concurrency, "code": options.code_concurrency}
    summary["pool_busy"] = pool_busy(rows, stages, concurrency)
    print(
        "  pool busy (time in claim, grade and record over pool processes x time): "
        + ", ".join(f"{kind} {share:.0%}" for kind, share in summary["pool_busy"].items())
    )
    for line in server_errors[:5]:
        print(f"    web server: {line}")
    remaining, new_keys = redis_cleanup(tag, keys_before)
    summary["redis_keys_left"] = remaining
    summary.update(
        students=options.students,
        rounds=options.rounds,
        think_s=list(options.think),
        web_workers=options.web_workers,
        symbolic_concurrency=options.symbolic_concurrency,
        code_concurrency=options.code_concurrency,
        cores=os.cpu_count() or 1,
        load_before=round(load_before, 2),
        load_after=round(os.getloadavg()[0], 2),
    )
    print(
        f"  Redis: {remaining} keys, members or messages of the run left behind; "
        f"new keys naming no run: {new_keys[:5] or 'none'}"
    )
    print(
        f"  machine: {summary['cores']} cores; 1-minute load average {load_before:.1f} before the "
        f"run, {summary['load_after']:.1f} after (other processes on the machine slow every figure)"
    )
    if options.json:
        print(json.dumps(summary, sort_keys=True))
    return summary


def cpu_by_part(site: Site) -> dict[str, float]:
    """Return the CPU milliseconds each part of the site has used so far, by /proc.

    A part is this process (the students' threads), a started process with every descendant (the web server's workers, a Celery
    worker's pool processes, the sandbox zygote and the children it reaped), PostgreSQL's server
    and its connections, and Redis. A process counts with the children it reaped, so one that
    ended between two readings is counted in its parent's. The machine's other PostgreSQL or
    Redis clients count too: run the benchmark alone. Empty without /proc.
    """
    if not Path("/proc/self/stat").exists():
        return {}
    parents: dict[int, int] = {}
    spent: dict[int, float] = {}
    names: dict[int, str] = {}
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name, fields = (entry / "stat").read_text().rsplit(")", 1)
        except OSError:
            continue
        values = fields.split()
        pid = int(entry.name)
        parents[pid] = int(values[1])
        spent[pid] = sum(int(value) for value in values[11:15]) * 1000 / ticks
        names[pid] = name.split("(", 1)[1]
    parts = site.parts
    totals = dict.fromkeys([*parts.values(), "postgres", "redis"], 0.0)
    own = os.times()
    totals["students (this process)"] = (own.user + own.system) * 1000
    for pid, ms in spent.items():
        part = None
        ancestor = pid
        while ancestor > 1 and part is None:
            part = parts.get(ancestor)
            ancestor = parents.get(ancestor, 0)
        if part is None and names[pid] == "postgres":
            part = "postgres"
        if part is None and names[pid].startswith("redis-server"):
            part = "redis"
        if part is not None:
            totals[part] += ms
    return totals


def _errors_in(log: str) -> list[str]:
    """Return the distinct error lines of a server log (the last line of each traceback)."""
    found = []
    for line in log.splitlines():
        if re.match(r"^[\w.]+(Error|Exception|Timeout)\b", line) and line not in found:
            found.append(line[:200])
    return found


def read_stages(log: str) -> dict[int, dict[str, float]]:
    """Return each graded submission's stage times (ms) and commit time, from the workers' logs."""
    stages = {}
    for match in STAGE_LINE.finditer(log):
        queue, claim, grade, record, committed = (float(v) for v in match.groups()[1:])
        stages[int(match.group(1))] = {
            "queue_wait": queue,
            "claim": claim,
            "grade": grade,
            "record": record,
            "committed_at": committed,
        }
    return stages


def pool_busy(
    rows: list[list[str]], stages: dict[int, dict[str, float]], concurrency: dict[str, int]
) -> dict[str, float]:
    """Return, per queue, the share of its pool processes' time spent inside grading tasks.

    Each task ran from its commit time back over its claim, grade and record. A long queue wait
    with a pool far from fully busy means the time goes between tasks (handing over, acknowledging),
    not in them.
    """
    busy: dict[str, float] = {}
    for kind, processes in concurrency.items():
        spans = []
        for row in rows:
            times = stages.get(int(row[0]))
            if times is not None and row[2].endswith(kind):
                length = (times["claim"] + times["grade"] + times["record"]) / 1000
                spans.append((times["committed_at"] - length, times["committed_at"]))
        if len(spans) > 1:
            window = max(end for _, end in spans) - min(start for start, _ in spans)
            worked = sum(end - start for start, end in spans)
            busy[kind] = round(worked / (processes * window), 3) if window > 0 else 0.0
    return busy


def _percentiles(samples: list[float]) -> dict[str, float | None]:
    if not samples:
        return {"p50": None, "p95": None, "p99": None}
    return {
        name: round(percentile(samples, fraction), 2)
        for name, fraction in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
    }


def report(
    results: list[Record],
    errors: list[str],
    rows: list[list[str]],
    stages: dict[int, dict[str, float]],
    wall: float,
) -> dict[str, Any]:
    """Print the latency table, throughput, and every submission lost, stuck or misjudged."""
    settled = [r for r in results if r.outcome.status in ("finished", "error")]
    lost = [r for r in results if r.outcome.status not in ("finished", "error")]
    wrong = [r for r in settled if r.outcome.verdict != r.expected]
    seconds = [r.outcome.seconds * 1000 for r in settled]
    per_stage: dict[str, list[float]] = {name: [] for name in STAGES}
    for record in settled:
        times = stages.get(record.outcome.submission_id)
        if times is None:
            continue
        for name in STAGES[:-1]:
            per_stage[name].append(times[name])
        per_stage["deliver"].append((record.outcome.received_at - times["committed_at"]) * 1000)
    series = []
    if seconds:
        series.append(summarize("submit-to-verdict, all (as a student sees it)", seconds))
        for slug in sorted({r.slug for r in settled}):
            ms = [r.outcome.seconds * 1000 for r in settled if r.slug == slug]
            series.append(summarize(f"  {slug}", ms))
    if results:
        series.append(
            summarize("POST …/check/ (held until the verdict)", [r.submit_ms for r in results])
        )
    for name in STAGES:
        if per_stage[name]:
            series.append(summarize(f"stage: {name.replace('_', ' ')}", per_stage[name]))
    print_table("Pipeline latency", series)
    stuck = [row for row in rows if row[1] in ("queued", "running")]
    gave_up = [row for row in rows if row[1] == "error"]
    throughput = len(settled) / wall if wall else 0.0
    print(f"\n  submissions: {len(results)} measured, {len(rows)} in the database")
    print(f"  throughput: {throughput:.1f} verdicts/s over {wall:.1f} s")
    print(
        f"  lost (no verdict within {VERDICT_TIMEOUT:.0f} s): {len(lost)}; "
        f"stuck in queued/running: {len(stuck)}; could not be graded: {len(gave_up)}"
    )
    print(f"  verdicts different from expected: {len(wrong)}; client errors: {len(errors)}")
    mismatches = [f"{r.slug}: expected {r.expected}, got {r.outcome.verdict}" for r in wrong]
    for line in errors[:5] + mismatches[:5]:
        print(f"    {line}")
    return {
        "answers": len(results),
        "submit_to_verdict_ms": _percentiles(seconds),
        "submit_ms": _percentiles([r.submit_ms for r in results]),
        "verdicts_per_s": round(throughput, 2),
        "wall_s": round(wall, 2),
        "lost": len(lost),
        "stuck": len(stuck),
        "wrong": len(wrong),
        "could_not_be_graded": len(gave_up),
        "client_errors": len(errors),
        "stages_ms": {name: _percentiles(per_stage[name]) for name in STAGES},
    }

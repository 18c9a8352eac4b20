"""Instructor pages: every exercise (published or not), one variant at a time, and a test bench.

The bench never grades in the web process: each check is a BenchRun that a grader worker grades
(grader.services.bench_run_create), in a lane ahead of learners' answers; the view waits for it
up to GRADER_BENCH_WAIT_SECONDS and says so when no worker answered.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from course.markdown import render_markdown
from course.models import Exercise
from course.selectors import access_exercise, access_instructor
from grader import selectors_instructor as selectors
from grader import services
from grader.engine import Message, Status, Verdict
from grader.models import BenchRun, Submission

MAX_SEED = 2**31 - 1
View = Callable[..., HttpResponse]


def instructor_required(view: View) -> View:
    """Send anonymous users to log in; refuse (403) anyone who is not an instructor."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        access_instructor(request.user)
        return view(request, *args, **kwargs)

    return wrapped


@instructor_required
@require_GET
def exercise_index(request: HttpRequest) -> HttpResponse:
    groups = selectors.exercise_index()
    total = sum(len(g.exercises) for g in groups)
    return render(
        request, "grader/instructor/exercise_index.html", {"groups": groups, "total": total}
    )


@instructor_required
@require_http_methods(["GET", "POST"])
def exercise_preview(request: HttpRequest, slug: str) -> HttpResponse:
    exercise = access_exercise(request.user, slug, teach=True)
    params = request.POST if request.method == "POST" else request.GET
    seed, seed_note = _chosen_seed(params, exercise)
    source = selectors.preview_source(exercise=exercise, from_file=params.get("source") == "file")
    context: dict[str, Any] = {"exercise": exercise, "seed": seed, "seed_note": seed_note}
    context["source"], context["answer"] = source, ""
    if request.method == "POST":
        answer = request.POST.get("answer", "")
        context.update(_bench(request, exercise, source.spec, answer, seed))
        if request.htmx:
            return render(request, "grader/instructor/exercise_preview.html#bench_result", context)
    context.update(_page(source.spec, seed))
    return render(request, "grader/instructor/exercise_preview.html", context)


def _chosen_seed(params: QueryDict, exercise: Exercise) -> tuple[int, str]:
    """Read the variant to show: ?student=<username>, else ?seed=N, else the first checked seed."""
    username = params.get("student", "").strip()
    if username:
        seed = selectors.student_seed(exercise=exercise, username=username)
        if seed is not None:
            return seed, _("Showing the variant %(username)s gets.") % {"username": username}
        return selectors.CHECK_SEEDS[0], _("There is no user named “%(username)s”.") % {
            "username": username
        }
    raw = params.get("seed", "").strip()
    if not raw:
        return selectors.CHECK_SEEDS[0], ""
    try:
        seed = int(raw)
    except ValueError:
        return selectors.CHECK_SEEDS[0], _("“%(raw)s” is not a whole number; showing seed 1.") % {
            "raw": raw
        }
    if not 0 <= seed <= MAX_SEED:
        return selectors.CHECK_SEEDS[0], _("Seeds run from 0 to %(last)d; showing seed 1.") % {
            "last": MAX_SEED
        }
    return seed, ""


def _page(spec: dict[str, Any], seed: int) -> dict[str, Any]:
    preview = selectors.exercise_preview(spec=spec, seed=seed)
    variant = preview.variant or {}
    return {
        "built": preview,
        "variant": variant,
        "prompt_html": render_markdown(str(variant.get("prompt", ""))),
        "hints_html": [render_markdown(str(h)) for h in spec.get("hints") or []],
        "known_answers": preview.known,
        "check_seeds": selectors.CHECK_SEEDS,
        "neighbour_seeds": (max(0, seed - 1), min(MAX_SEED, seed + 1)),
    }


def _bench(
    request: HttpRequest, exercise: Exercise, spec: dict[str, Any], answer: str, seed: int
) -> dict[str, Any]:
    """Have a worker grade an answer exactly as a student's, and wrap it for the verdict partial."""
    if not answer.strip():
        verdict = Verdict(Status.INVALID, messages=[Message("empty", _("Type an answer first."))])
    elif len(answer) > settings.GRADER_ENGINE.max_answer_chars:
        limit = settings.GRADER_ENGINE.max_answer_chars
        verdict = Verdict(
            Status.INVALID,
            messages=[Message("too_large", _("At most %(limit)d characters.") % {"limit": limit})],
        )
    else:
        verdict = _graded_by_a_worker(request, exercise, spec, answer, seed)
    # Never saved: it only lets the bench use the very partial the student's page renders.
    shown = Submission(exercise=exercise, seed=seed, answer=answer, verdict=verdict.to_dict())
    return {"answer": answer, "verdict": verdict, "submission": shown}


def _graded_by_a_worker(
    request: HttpRequest, exercise: Exercise, spec: dict[str, Any], answer: str, seed: int
) -> Verdict:
    run = services.bench_run_create(
        user=request.user, exercise=exercise, spec=spec, answer=answer, seed=seed
    )
    wait = settings.GRADER_BENCH_WAIT_SECONDS
    run = selectors.bench_run_wait(run=run, timeout=wait)
    if run.status == BenchRun.Status.QUEUED:
        run = services.bench_run_expire(run=run, waited_s=wait)
    verdict = run.get_verdict()
    assert verdict is not None  # a finished or expired run has one
    return verdict

"""Pages of the grader: the exercise page, checking an answer, and its live verdict."""

from __future__ import annotations

import functools
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from course.markdown import render_markdown
from course.models import Exercise
from course.selectors import access_exercise
from course.selectors_groups import exercise_group_questions
from course.templatetags.localize import mark_english
from grader import engine, selectors, services, services_learner
from grader.engine import CODE_KINDS
from grader.engine.types import empty_preview, error_preview
from grader.errors import PreviewRateLimited
from grader.models import Submission
from grader.preview_limit import preview_wait
from grader.rendering import preview_for_reader

PREVIEW_MAX_CHARS = 2000


def _hints_html(view: selectors.ExerciseView) -> list[str]:
    """Render the hints the learner may see, marked where they are the English stand-ins."""
    return [mark_english(render_markdown(h), view.hints_english) for h in view.hints]


def _page_context(
    request: HttpRequest, exercise: Exercise, submission: Submission | None
) -> dict[str, Any]:
    """Return the exercise page's context; a solved exercise opens on its correct answer.

    The answer box holds the submission asked for, else the learner's draft (what they last
    typed or sent), else their latest answer.
    """
    view = selectors.exercise_view(exercise=exercise, user=request.user)
    shown = submission if submission is not None else (view.best or view.latest)
    if submission is not None:
        answer = submission.answer
    elif view.draft is not None:
        answer = view.draft.text
    else:
        answer = shown.answer if shown is not None else ""
    return {
        "exercise": exercise,
        "view": view,
        "submission": shown,
        # When the page opens on the correct answer, the latest (another) attempt is linked.
        "latest_other": view.latest if view.latest not in (None, shown) else None,
        "answer": answer,
        "prompt_html": mark_english(render_markdown(view.variant["prompt"]), view.prompt_english),
        "hints_html": _hints_html(view),
        "poll_ms": settings.GRADER_POLL_MS,
        "ask_groups": exercise_group_questions(user=request.user, exercise=exercise),
    }


@login_required
@require_http_methods(["GET", "POST"])
def exercise_detail(request: HttpRequest, slug: str) -> HttpResponse:
    exercise = access_exercise(request.user, slug)
    if request.method == "POST":
        return submission_create(request, exercise)
    response = render(
        request, "grader/exercise_detail.html", _page_context(request, exercise, None)
    )
    # Back and reload fetch the page again, so the answer box shows the saved draft.
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def answer_draft(request: HttpRequest, slug: str) -> HttpResponse:
    """Save what the learner is typing (the page posts it a moment after they stop)."""
    exercise = access_exercise(request.user, slug)
    services_learner.answer_draft_save(
        user=request.user, exercise=exercise, text=request.POST.get("answer", "")
    )
    if request.htmx:
        return render(request, "grader/submission.html#draft_saved", {})
    return redirect(exercise)


@login_required
@require_POST
def hint_show(request: HttpRequest, slug: str) -> HttpResponse:
    """Show the next hint (refused while the exercise's hint_after lock holds)."""
    exercise = access_exercise(request.user, slug)
    services_learner.hint_reveal(user=request.user, exercise=exercise)
    if request.htmx:
        view = selectors.exercise_view(exercise=exercise, user=request.user)
        hints_html = _hints_html(view)
        context = {"view": view, "hints_html": hints_html}
        return render(request, "grader/submission.html#hints", context)
    return redirect(exercise.get_absolute_url() + "#hints")


@login_required
@require_POST
def exercise_give_up(request: HttpRequest, slug: str) -> HttpResponse:
    """Give up on the exercise and show its worked solution (the page asked to confirm)."""
    exercise = access_exercise(request.user, slug)
    services_learner.exercise_give_up(user=request.user, exercise=exercise)
    return redirect(exercise.get_absolute_url() + "#solution")


def submission_create(request: HttpRequest, exercise: Exercise) -> HttpResponse:
    """Check an answer posted to the exercise page: queue it, then show its page (or status).

    The form posts here without JavaScript (the exercise page's htmx posts to answer_check). A
    refused answer (grader.errors) is rendered by course.errors.RequestErrorMiddleware.
    """
    submission = _submission_from_form(request, exercise)
    if request.htmx:
        # The first look for the verdict goes out at once: the server holds it until the verdict.
        return _status_response(request, submission, poll_ms=0)
    return redirect(submission)


def _submission_from_form(request: HttpRequest, exercise: Exercise) -> Submission:
    """Store the posted answer. The "Run the visible tests" button of a code exercise sends
    run=tests: a practice run (no attempt) through the same queue and budget."""
    answer = request.POST.get("answer", "")
    run_tests = request.POST.get("run") == "tests" and exercise.kind in CODE_KINDS
    purpose = Submission.Purpose.TESTS if run_tests else Submission.Purpose.CHECK
    return services.submission_create(
        user=request.user, exercise=exercise, answer=answer, purpose=purpose
    )


def _check(request: HttpRequest, slug: str) -> Submission:
    submission = _submission_from_form(request, access_exercise(request.user, slug))
    selectors.release_connection()
    return submission


@login_required
@require_POST
async def answer_check(request: HttpRequest, slug: str) -> HttpResponse:
    """Check an answer from the exercise page (htmx) and answer with its verdict.

    Held like the status request (a coroutine, no thread, while it waits), so checking an answer
    costs the learner one request, not a post and then a look. If the verdict is not there within
    GRADER_STATUS_WAIT_SECONDS, the status block answers pending and asks again. Posted without
    htmx, it goes to the submission's page as the exercise page's own form does.
    """
    listening = request.htmx and await selectors.listen_for_verdicts()
    submission = await sync_to_async(_check)(request, slug)
    if not request.htmx:
        return redirect(submission)
    return await selectors.submission_wait(
        submission=submission,
        timeout=settings.GRADER_STATUS_WAIT_SECONDS,
        just_stored=listening and not services.grading_inline(),
        then=functools.partial(_status_response, request, poll_ms=settings.GRADER_POLL_MS),
    )


@login_required
@require_GET
async def submission_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Show the exercise page with one submission's verdict; it refreshes itself while pending.

    Held until the verdict (or GRADER_STATUS_WAIT_SECONDS) like the status block, so a form posted
    without JavaScript lands on its verdict; the wait is a coroutine and holds no thread.
    """
    submission = await sync_to_async(selectors.access_submission)(request.user, pk)
    return await selectors.submission_wait(
        submission=submission,
        timeout=settings.GRADER_STATUS_WAIT_SECONDS,
        then=functools.partial(_detail_response, request),
    )


@login_required
@require_GET
async def submission_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Return the live status block of a submission once it settles (or the wait runs out).

    An async view, so a learner waiting for a verdict holds no worker thread: under the ASGI
    server many held requests share one event loop, each woken by the worker's announcement on
    Redis. Only the access check before the wait and the rendering after it run in a thread.
    """
    submission = await sync_to_async(selectors.access_submission)(request.user, pk)
    return await selectors.submission_wait(
        submission=submission,
        timeout=settings.GRADER_STATUS_WAIT_SECONDS,
        then=functools.partial(_status_response, request, poll_ms=settings.GRADER_POLL_MS),
    )


def _detail_response(request: HttpRequest, submission: Submission) -> HttpResponse:
    context = _page_context(request, submission.exercise, submission)
    return render(request, "grader/exercise_detail.html", context)


def _status_response(request: HttpRequest, submission: Submission, *, poll_ms: int) -> HttpResponse:
    context: dict[str, Any] = {"submission": submission, "poll_ms": poll_ms}
    if not submission.is_pending:
        # The verdict changes the attempts, hints and history shown beside it: send those too.
        view = selectors.exercise_view(exercise=submission.exercise, user=request.user)
        hints_html = _hints_html(view)
        context.update(view=view, hints_html=hints_html, oob=True)
    response = render(request, "grader/status.html", context)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def answer_preview(request: HttpRequest, slug: str) -> HttpResponse:
    """Show how the answer typed so far is read; a learner asking too often is refused (429).

    The preview runs in this (threaded) web process: engine.preview bounds its work by a budget
    of steps, and preview_wait bounds how often one learner may ask.
    """
    exercise = access_exercise(request.user, slug)
    wait = preview_wait(request.user.pk)
    if wait:
        raise PreviewRateLimited(retry_after=wait)
    answer = request.GET.get("answer", "")
    if len(answer) > PREVIEW_MAX_CHARS:
        result = error_preview(
            _("That is longer than %(limit)d characters.") % {"limit": PREVIEW_MAX_CHARS}, None
        )
    elif not answer.strip():
        result = empty_preview(ok=True)
    else:
        result = preview_for_reader(engine.preview(exercise.spec, answer))
    return render(request, "grader/exercise_detail.html#preview", {"preview": result})

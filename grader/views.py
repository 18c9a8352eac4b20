"""Pages of the grader: the exercise page and the live reading of a typed answer."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from course.markdown import render_markdown
from course.selectors import exercise_get_for_user
from grader import engine, selectors

PREVIEW_MAX_CHARS = 2000


@login_required
def exercise_detail(request: HttpRequest, slug: str) -> HttpResponse:
    exercise = exercise_get_for_user(slug=slug, user=request.user)
    view = selectors.exercise_view(exercise=exercise, user=request.user)
    return render(
        request,
        "grader/exercise_detail.html",
        {
            "exercise": exercise,
            "view": view,
            "prompt_html": render_markdown(view.variant["prompt"]),
            "hints_html": [render_markdown(h) for h in view.hints],
        },
    )


@login_required
@require_GET
def answer_preview(request: HttpRequest, slug: str) -> HttpResponse:
    exercise = exercise_get_for_user(slug=slug, user=request.user)
    answer = request.GET.get("answer", "")
    if len(answer) > PREVIEW_MAX_CHARS:
        result = {
            "ok": False,
            "latex": None,
            "error": {
                "text": f"That is longer than {PREVIEW_MAX_CHARS} characters.",
                "position": None,
            },
        }
    elif not answer.strip():
        result = {"ok": True, "latex": None, "error": None}
    else:
        result = engine.preview(exercise.spec, answer)
    return render(request, "grader/exercise_detail.html#preview", {"preview": result})

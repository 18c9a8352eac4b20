"""Instructor insight pages: per-exercise statistics, common wrong answers and audit flags."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from course.selectors import access_exercise, access_instructor
from grader import insight


@login_required
@require_GET
def insight_index(request: HttpRequest) -> HttpResponse:
    access_instructor(request.user)
    tracks, groups = insight.insight_tracks_and_groups()
    return render(
        request,
        "grader/insight/index.html",
        {
            "stats": insight.exercise_stats(exercises=insight.insight_exercises()),
            "flagged": insight.audit_disagreements(),
            "tracks": tracks,
            "groups": groups,
        },
    )


@login_required
@require_GET
def insight_exercise(request: HttpRequest, slug: str) -> HttpResponse:
    exercise = access_exercise(request.user, slug, teach=True)
    diagnoses = insight.wrong_answers_by_diagnosis(exercise=exercise)
    return render(
        request,
        "grader/insight/exercise.html",
        {
            "exercise": exercise,
            "stats": insight.exercise_stats(exercises=[exercise])[0],
            "diagnoses": diagnoses,
            "mistakes": insight.listed_mistakes(exercise=exercise, groups=diagnoses),
            "flagged": insight.flagged_submissions(exercise=exercise),
        },
    )

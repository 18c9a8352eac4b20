"""A populated site for browser tours: the real course, a returning student, a group, an instructor.

Built straight through services and models (no grading needed), so that every page type has
something to show: verdicts with a wide "read as" formula, code test results, a board with a
module of eleven exercises, a question thread, insight with listed mistakes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.utils import timezone

from course import services, services_groups
from course.models import Exercise, Lesson, Module, StudyGroup, Track, User
from grader.models import Submission
from tests.course import groupkit
from tests.factories import UserFactory

EXPRESSION = "softplus-variance-gradient"
MATRIX = "mse-weight-gradient"
DERIVATION = "sigmoid-derivative-steps"
CODE = "relu-backward"
WIDE_MATH_LESSON = ("demand-forecasting", "predicting-demand-and-its-variance")
BOARD_MODULE = "everyday-derivatives"  # eleven exercises: the widest board
# How the grader reads a long wrong answer to EXPRESSION: wider than a phone.
WIDE_READING = (
    r"\left(\frac{1}{2 \log{\left(e^{s} + 1 \right)}} - \frac{9}{2 \log{\left(e^{s} + 1 \right)}^{2}}"
    r"\right) e^{s} + \frac{1}{2 \log{\left(e^{s} + 1 \right)}} - \frac{9}{2 \log{\left(e^{s} + 1 \right)}^{2}}"
)
WRONG_CODE = (
    "import numpy as np\n\n"
    "def relu_backward(x, grad_out):\n"
    "    mask = x > 0\n"
    "    if mask.any():\n"
    "        return mask.astype(float)\n"
    "    return grad_out\n"
)


@dataclass
class Site:
    student: User
    instructor: User
    facilitator: User
    group: StudyGroup
    thread_url: str
    submission: Submission
    code_submission: Submission
    lesson_url: str


def _finished(
    user: User, exercise: Exercise, answer: str, attempt: int, verdict: dict[str, Any]
) -> Submission:
    now = timezone.now()
    return Submission.objects.create(
        user=user,
        exercise=exercise,
        seed=1,
        answer=answer,
        status=Submission.Status.FINISHED,
        queue="code" if exercise.kind == Exercise.Kind.CODE else "symbolic",
        verdict=verdict,
        score=float(verdict.get("score", 0.0)),
        attempt_number=attempt,
        created_at=now - timedelta(minutes=5 - attempt),
        enqueued_at=now - timedelta(minutes=5 - attempt),
        finished_at=now - timedelta(minutes=5 - attempt),
    )


def _listed_mistake(exercise: Exercise, index: int) -> dict[str, str]:
    return {
        "code": "known_mistake",
        "text": str(exercise.spec["mistakes"][index]["feedback"]).strip(),
    }


def build_site() -> Site:
    """Load the real course and populate it (call inside a transactional django_db test)."""
    if not Track.objects.exists():
        call_command("sync_course", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    with transaction.atomic():
        return _populate()


def _populate() -> Site:
    applied = Track.objects.get(slug="applied")
    student = UserFactory(username="sam", role=User.Role.STUDENT)
    instructor = UserFactory(username="ines", role=User.Role.INSTRUCTOR)
    facilitator = UserFactory(username="fay", role=User.Role.STUDENT)
    members = groupkit.make_members(3)
    for user in (student, facilitator, *members):
        services.enrollment_create(user=user, track=applied)

    board_module = Module.objects.get(slug=BOARD_MODULE)
    group = groupkit.make_group(
        catalogue=groupkit.Catalogue(
            track=applied,
            other_track=Track.objects.get(slug="research"),
            modules=[board_module],
            exercises={},
        ),
        facilitator=facilitator,
        members=[student, *members],
    )
    board_exercises = list(
        Exercise.objects.reachable()
        .filter(lesson__module=board_module)
        .order_by("lesson__order", "order")
    )
    for i, exercise in enumerate(board_exercises[:6]):
        groupkit.solve(student, exercise)
        if i % 2:
            groupkit.solve(facilitator, exercise)
        else:
            groupkit.attempt(members[0], exercise, score=0.5)

    module_slug, lesson_slug = WIDE_MATH_LESSON
    lesson = Lesson.objects.get(slug=lesson_slug, module__slug=module_slug)
    services.lesson_visit_record(user=student, lesson=lesson)

    expression = Exercise.objects.get(slug=EXPRESSION)
    submission = _finished(
        student,
        expression,
        "(1/(2*log(1 + exp(s))) - 9/(2*log(1 + exp(s))^2))*exp(s) + 1/(2*log(1+exp(s))) - 9/(2*log(1+exp(s))^2)",
        1,
        {
            "status": "incorrect",
            "score": 0.0,
            "messages": [_listed_mistake(expression, 2)],
            "diagnosis": "known_mistake",
            "parsed": WIDE_READING,
            "counterexample": None,
            "flags": [],
        },
    )
    groupkit.attempt(student, expression)
    code = Exercise.objects.get(slug=CODE)
    code_submission = _finished(
        student,
        code,
        WRONG_CODE,
        1,
        {
            "status": "incorrect",
            "score": 0.5,
            "messages": [
                _listed_mistake(code, 0),
                {"code": "wrong_values", "text": "Test 'mixed signs': 2 of 6 values differ."},
            ],
            "diagnosis": "wrong_values",
            "tests": [
                {
                    "name": "positive inputs",
                    "passed": True,
                    "message": "Passed.",
                    "hidden": False,
                    "score": 0.5,
                },
                {
                    "name": "mixed signs",
                    "passed": False,
                    "message": "2 of 6 values differ.",
                    "hidden": False,
                    "score": 0.0,
                },
                {
                    "name": "large batch",
                    "passed": False,
                    "message": "",
                    "hidden": True,
                    "score": 0.0,
                },
            ],
        },
    )
    groupkit.attempt(student, code, score=0.5)
    thread = services_groups.thread_create(
        group=group,
        author=student,
        title="Why does the softplus variance need a sigmoid?",
        body=r"Is $$\frac{d}{ds}\log(1+e^{s}) = \frac{1}{1+e^{-s}}$$ true for every $s$?",
        exercise=expression,
    )
    services_groups.post_create(
        thread=thread, author=facilitator, body=r"Yes: multiply top and bottom by $e^{-s}$."
    )
    return Site(
        student=student,
        instructor=instructor,
        facilitator=facilitator,
        group=group,
        thread_url=thread.get_absolute_url(),
        submission=submission,
        code_submission=code_submission,
        lesson_url=lesson.get_absolute_url(),
    )


def log_in(context: Any, base_url: str, user: User) -> None:
    """Give a browser context the session cookie of a signed-in user."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": base_url}])

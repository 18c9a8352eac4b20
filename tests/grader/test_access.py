"""access_submission once for every role: a submission is its author's alone, whoever else asks."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404
from django.utils import timezone

from course.models import Exercise, User
from grader.models import Submission
from grader.selectors import access_submission
from tests.course import groupkit
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_access_submission_for_every_role(student: User, outsider: User, instructor: User) -> None:
    catalogue = groupkit.build_catalogue()
    facilitator, member = UserFactory(username="fay"), UserFactory(username="mia")
    groupkit.make_group(catalogue=catalogue, facilitator=facilitator, members=[member, student])
    exercise = Exercise.objects.get(slug="ex-0-0")
    now = timezone.now()
    submission = Submission.objects.create(
        user=student, exercise=exercise, seed=1, answer="x", queue="symbolic",
        created_at=now, enqueued_at=now,
    )  # fmt: skip
    staff = UserFactory(username="stella", role=User.Role.STAFF, is_staff=True)
    users = {
        "anonymous": AnonymousUser(),
        "student": student,
        "outsider": outsider,
        "member": member,  # in the author's study group
        "facilitator": facilitator,  # of the author's study group
        "instructor": instructor,
        "staff": staff,
    }
    for role, user in users.items():
        if role == "student":
            assert access_submission(user, submission.pk) == submission
        else:
            with pytest.raises(Http404):
                access_submission(user, submission.pk)
    with pytest.raises(Http404):
        access_submission(student, submission.pk + 1)
    # Once the exercise is unpublished its author cannot open the answer either.
    Exercise.objects.filter(pk=exercise.pk).update(published=False)
    with pytest.raises(Http404):
        access_submission(student, submission.pk)

"""course.compiled: a queryset's SQL compiled once, run again with other values; sessions read so."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from course.compiled import Compiled
from course.models import User
from course.sessions import SessionStore
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# A slice from the settings, an order, a filter on a value of the queryset's own, two arguments.
JOINED_BEFORE = Compiled(
    lambda low, high: User.objects.filter(pk__gte=low, pk__lte=high, is_active=True).order_by(
        "-pk"
    )[: settings.GRADER_HISTORY_LENGTH],
    low=int,
    high=int,
)


def expected(low: int, high: int) -> list[int]:
    return list(
        User.objects.filter(pk__gte=low, pk__lte=high, is_active=True)
        .order_by("-pk")
        .values_list("pk", flat=True)[: settings.GRADER_HISTORY_LENGTH]
    )


def test_it_returns_what_the_queryset_returns_for_any_values() -> None:
    users = UserFactory.create_batch(6)
    User.objects.filter(pk=users[2].pk).update(is_active=False)
    pks = [user.pk for user in users]
    for low, high in [(pks[0], pks[-1]), (pks[1], pks[3]), (pks[-1] + 1, pks[-1] + 9)]:
        found = JOINED_BEFORE(low=low, high=high)
        assert [user.pk for user in found] == expected(low, high)
        assert all(isinstance(user, User) for user in found)


def test_the_instances_have_their_values_converted() -> None:
    joined = timezone.now() - timedelta(days=3)
    user = UserFactory(date_joined=joined)
    (found,) = Compiled(lambda pk: User.objects.filter(pk=pk), pk=int)(pk=user.pk)
    assert found.date_joined == joined and found.username == user.username


def test_a_changed_setting_is_compiled_again(settings: Any) -> None:
    users = UserFactory.create_batch(4)
    low, high = users[0].pk, users[-1].pk
    settings.GRADER_HISTORY_LENGTH = 4
    assert len(JOINED_BEFORE(low=low, high=high)) == 4
    settings.GRADER_HISTORY_LENGTH = 2
    assert len(JOINED_BEFORE(low=low, high=high)) == 2


def test_one_statement_each_time() -> None:
    user = UserFactory()
    JOINED_BEFORE(low=user.pk, high=user.pk)
    with CaptureQueriesContext(connection) as queries:
        JOINED_BEFORE(low=user.pk, high=user.pk)
    assert len(queries) == 1


def test_misuse_is_refused() -> None:
    with pytest.raises(TypeError, match="expected"):
        JOINED_BEFORE(low=1)
    with pytest.raises(ValueError, match="does not use"):
        Compiled(lambda pk, other: User.objects.filter(pk=pk), pk=int, other=int)(pk=1, other=2)
    with pytest.raises(ValueError, match="select_related"):
        Compiled(lambda pk: User.objects.select_related("grading_budget").filter(pk=pk), pk=int)(
            pk=1
        )


def test_a_session_is_read_while_unexpired_and_then_forgotten(client: Any, student: User) -> None:
    client.force_login(student)
    key = client.cookies["sessionid"].value
    store = SessionStore(session_key=key)
    assert store.load()["_auth_user_id"] == str(student.pk)
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(1))
    expired = SessionStore(session_key=key)
    assert expired.load() == {} and expired.session_key is None
    assert SessionStore(session_key="x" * 40).load() == {}

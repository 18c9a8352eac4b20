"""Study groups around the learner's loop: invites through sign-up, joining enrols, short codes,
"Ask your group" from an exercise, the composer's preview, notifications and the e-mail digest."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from course import services_groups
from course.models import Enrollment, Notification, StudyGroup, User
from course.services_groups import INVITE_ALPHABET
from course.services_notifications import digests_send
from tests.course import groupkit
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SIGNUP = {
    "email": "new@example.com",
    "password1": "a-long-pass-phrase",
    "password2": "a-long-pass-phrase",
}


@pytest.fixture
def catalogue() -> groupkit.Catalogue:
    return groupkit.build_catalogue(modules=2, exercises_per_module=2)


@pytest.fixture
def group(catalogue: groupkit.Catalogue) -> StudyGroup:
    return groupkit.make_group(catalogue=catalogue, facilitator=UserFactory(username="fay"))


def test_an_invite_opened_logged_out_survives_sign_up_and_joining_enrols(
    client: Client, group: StudyGroup
) -> None:
    invite = f"/groups/join/{group.invite_code}/"
    page = client.get(invite).content.decode()
    assert group.name in page
    signup_link = re.search(r'href="(/accounts/signup/\?next=[^"]+)"', page)
    assert signup_link is not None
    response = client.post(signup_link.group(1), {"username": "newcomer", **SIGNUP})
    assert response.status_code == 302 and response["Location"] == invite
    assert client.post(invite).status_code == 302
    newcomer = User.objects.get(username="newcomer")
    assert group.memberships.filter(user=newcomer).exists()
    assert Enrollment.objects.filter(user=newcomer, track=group.track).exists()


def test_sign_up_refuses_to_send_a_learner_to_another_site(client: Client) -> None:
    response = client.post(
        "/accounts/signup/?next=https://evil.example/phish", {"username": "safe", **SIGNUP}
    )
    assert response.status_code == 302 and response["Location"] == "/"


def test_a_listed_group_join_enrols_in_its_track(catalogue: groupkit.Catalogue) -> None:
    group = groupkit.make_group(
        catalogue=catalogue,
        facilitator=UserFactory(username="fay"),
        privacy=StudyGroup.Privacy.LISTED,
    )
    learner = UserFactory(username="lee")
    groupkit.logged_in(learner).post(f"/groups/{group.pk}/join/")
    assert Enrollment.objects.filter(user=learner, track=group.track).exists()


def test_invite_codes_are_short_unambiguous_and_typed_forgivingly(group: StudyGroup) -> None:
    code = group.invite_code
    assert re.fullmatch(rf"[{INVITE_ALPHABET}]{{5}}-[{INVITE_ALPHABET}]{{5}}", code)
    learner = groupkit.logged_in(UserFactory(username="lee"))
    for typed in (code.upper(), code.replace("-", ""), f" {code[:5]} {code[6:]} "):
        response = learner.get("/groups/join/", {"code": typed}, follow=True)
        assert response.status_code == 200 and group.name in response.content.decode(), typed
    assert learner.get("/groups/join/", {"code": "aaaaa-aaaaa"}, follow=True).status_code == 404


def test_a_code_from_before_the_short_format_still_opens_its_group(group: StudyGroup) -> None:
    StudyGroup.objects.filter(pk=group.pk).update(invite_code="Old-Style_Code16")
    learner = groupkit.logged_in(UserFactory(username="lee"))
    assert learner.get("/groups/join/Old-Style_Code16/").status_code == 200


def test_the_invite_link_has_a_copy_button_and_no_inline_script(group: StudyGroup) -> None:
    facilitator = group.memberships.get().user
    page = groupkit.logged_in(facilitator).get(f"/groups/{group.pk}/settings/").content.decode()
    assert 'data-copy="invite-link"' in page
    assert "js/copy.js" in page
    assert not re.search(r"\son[a-z]+=", page)  # no inline handlers under the strict CSP


def test_an_exercise_page_offers_to_ask_the_learners_groups(
    catalogue: groupkit.Catalogue, group: StudyGroup
) -> None:
    exercise = catalogue.exercises[catalogue.modules[0].pk][0]
    exercise.spec = {
        "kind": "expression",
        "prompt": "Differentiate $x^2$.",
        "answer": "2*x",
        "variables": {"x": {}},
    }
    exercise.save()
    member = UserFactory(username="mo")
    services_groups.group_join(group=group, user=member)
    services_groups.thread_create(
        group=group, author=member, title="Stuck on the square", body="?", exercise=exercise
    )
    page = groupkit.logged_in(member).get(exercise.get_absolute_url()).content.decode()
    assert f"/groups/{group.pk}/threads/?topic=exercise:{exercise.pk}#ask-heading" in page
    assert "Stuck on the square" in page
    outsider_page = groupkit.logged_in(UserFactory(username="otto")).get(
        exercise.get_absolute_url()
    )
    assert "Ask your group" not in outsider_page.content.decode()
    form = groupkit.logged_in(member).get(
        f"/groups/{group.pk}/threads/?topic=exercise:{exercise.pk}"
    )
    assert f'<option value="exercise:{exercise.pk}" selected>' in form.content.decode()


def test_the_composer_previews_markdown_and_math_sanitised(group: StudyGroup) -> None:
    client = groupkit.logged_in(group.memberships.get().user)
    html = client.post(
        f"/groups/{group.pk}/preview/", {"body": "**Why** $e^x$? <script>alert(1)</script>"}
    ).content.decode()
    assert "<strong>Why</strong>" in html and 'class="math' in html
    assert "<script>" not in html
    empty = client.post(f"/groups/{group.pk}/preview/", {"body": "  "}).content.decode()
    assert "Write something first." in empty


def test_the_preview_needs_the_csrf_token(group: StudyGroup) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(group.memberships.get().user)
    assert client.post(f"/groups/{group.pk}/preview/", {"body": "x"}).status_code == 403


def test_a_reply_notifies_the_thread_followers_but_not_its_author(group: StudyGroup) -> None:
    fay = group.memberships.get().user
    mo, lee = UserFactory(username="mo"), UserFactory(username="lee")
    for learner in (mo, lee):
        services_groups.group_join(group=group, user=learner)
    thread = services_groups.thread_create(group=group, author=mo, title="Q", body="?")
    services_groups.post_create(thread=thread, author=fay, body="An answer")
    services_groups.post_create(thread=thread, author=lee, body="Another")
    assert Notification.objects.filter(user=mo, kind="reply").count() == 2
    assert Notification.objects.filter(user=fay, kind="reply").count() == 1  # lee's, not her own
    assert not Notification.objects.filter(user=lee).exists()  # lee followed after fay's reply
    client = groupkit.logged_in(mo)
    assert "(2 unread)" in client.get("/dashboard/").content.decode()
    assert "New reply in “Q”" in client.get("/notifications/").content.decode()
    client.get(thread.get_absolute_url())  # reading the thread reads its notifications
    assert "unread)" not in client.get("/dashboard/").content.decode()


def test_a_group_plan_notifies_the_members_but_not_the_planner(
    catalogue: groupkit.Catalogue, group: StudyGroup
) -> None:
    fay = group.memberships.get().user
    mo = UserFactory(username="mo")
    services_groups.group_join(group=group, user=mo)
    response = groupkit.logged_in(fay).post(
        f"/groups/{group.pk}/schedule/",
        {"module": catalogue.modules[1].pk, "week_start": "2026-03-02", "due_date": "2026-03-08"},
    )
    assert response.status_code == 302
    assert Notification.objects.filter(user=mo, kind="schedule").count() == 1
    assert not Notification.objects.filter(user=fay).exists()
    client = groupkit.logged_in(mo)
    assert "plans Module 1" in client.get("/notifications/").content.decode()
    client.post("/notifications/read/")
    assert not Notification.objects.filter(user=mo, read_at__isnull=True).exists()


def test_the_digest_mails_unread_items_once_in_the_learners_language(
    group: StudyGroup, settings
) -> None:  # noqa: ANN001
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    fay = group.memberships.get().user
    mo = UserFactory(username="mo", email="mo@example.com", language="zh-hans")
    quiet = UserFactory(username="quiet", email="quiet@example.com")
    for learner in (mo, quiet):
        services_groups.group_join(group=group, user=learner)
        services_groups.thread_create(group=group, author=learner, title="Q", body="?")
    groupkit.logged_in(mo).post("/notifications/digest/", {"email_digest": "1"})
    for thread in group.threads.all():
        services_groups.post_create(thread=thread, author=fay, body="An answer")
    report = digests_send()
    assert (report.sent, report.items) == (1, 1)
    [message] = mail.outbox
    assert message.to == ["mo@example.com"]
    assert "Q" in message.body and f"/groups/{group.pk}/threads/" in message.body
    assert "你" in message.subject + message.body  # mo reads Chinese
    assert digests_send().sent == 0  # sent once, not every day

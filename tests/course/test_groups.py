"""Study groups through HTTP: creating, inviting, leaving, roles, schedule, board, threads, export."""

from __future__ import annotations

import csv
import io
from datetime import datetime, time, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from course import services_groups
from course.models import (
    GroupMembership,
    GroupPost,
    GroupScheduleEntry,
    GroupThread,
    HelpfulMark,
    Module,
    StudyGroup,
    User,
)
from course.selectors_groups import group_board, new_replies_for_user
from tests.course import groupkit
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue() -> groupkit.Catalogue:
    return groupkit.build_catalogue()


@pytest.fixture
def fay() -> User:
    return UserFactory(username="fay")


@pytest.fixture
def group(catalogue: groupkit.Catalogue, fay: User, student: User) -> StudyGroup:
    return groupkit.make_group(catalogue=catalogue, facilitator=fay, members=[student])


def test_it_creates_a_group_with_the_creator_as_facilitator(
    catalogue: groupkit.Catalogue, student: User
) -> None:
    response = groupkit.logged_in(student).post(
        "/groups/new/",
        {"name": "Night owls", "track": catalogue.track.pk, "privacy": "listed", "description": ""},
    )
    group = StudyGroup.objects.get(name="Night owls")
    assert response["Location"] == f"/groups/{group.pk}/settings/"
    membership = GroupMembership.objects.get(group=group)
    assert membership.user == student and membership.is_facilitator
    assert group.is_listed and len(group.invite_code) == 11  # xxxxx-xxxxx


def test_it_refuses_a_group_without_a_name(catalogue: groupkit.Catalogue, student: User) -> None:
    response = groupkit.logged_in(student).post(
        "/groups/new/", {"name": "", "track": catalogue.track.pk, "privacy": "private"}
    )
    assert response.status_code == 200 and b"This field is required" in response.content
    assert not StudyGroup.objects.exists()


def test_invite_link_joins_and_rotating_it_kills_the_old_link(
    group: StudyGroup, fay: User, outsider: User
) -> None:
    old_code = group.invite_code
    settings_page = groupkit.logged_in(fay).get(f"/groups/{group.pk}/settings/")
    assert f"/groups/join/{old_code}/".encode() in settings_page.content

    client = groupkit.logged_in(outsider)
    confirm = client.get(f"/groups/join/{old_code}/")
    assert b"Join Gradient gang" in confirm.content
    assert not group.memberships.filter(user=outsider).exists()  # a GET joins nobody
    assert client.post(f"/groups/join/{old_code}/")["Location"] == f"/groups/{group.pk}/"
    assert group.memberships.filter(user=outsider, role="member").exists()

    groupkit.logged_in(fay).post(f"/groups/{group.pk}/invite/rotate/")
    group.refresh_from_db()
    assert group.invite_code != old_code
    late = UserFactory(username="late")
    assert groupkit.logged_in(late).post(f"/groups/join/{old_code}/").status_code == 404
    assert (
        groupkit.logged_in(late).get(f"/groups/join/?code={group.invite_code}").status_code == 302
    )


def test_join_by_code_accepts_a_pasted_link(group: StudyGroup, outsider: User) -> None:
    link = f"http://testserver/groups/join/{group.invite_code}/"
    response = groupkit.logged_in(outsider).get("/groups/join/", {"code": link})
    assert response["Location"] == f"/groups/join/{group.invite_code}/"


def test_listed_groups_are_discoverable_and_private_ones_are_not(
    group: StudyGroup, catalogue: groupkit.Catalogue, outsider: User
) -> None:
    listed = services_groups.group_create(
        creator=UserFactory(username="lee"),
        track=catalogue.track,
        name="Open door",
        privacy=StudyGroup.Privacy.LISTED,
    )
    page = groupkit.logged_in(outsider).get("/groups/").content.decode()
    assert "Open door" in page and "Gradient gang" not in page
    assert f"/groups/{listed.pk}/join/" in page


def test_leaving_hands_facilitation_to_the_longest_member_and_the_last_one_out_deletes(
    group: StudyGroup, fay: User, student: User, outsider: User
) -> None:
    services_groups.group_join(group=group, user=outsider)
    groupkit.logged_in(fay).post(f"/groups/{group.pk}/leave/")
    assert GroupMembership.objects.get(group=group, user=student).is_facilitator
    assert not GroupMembership.objects.get(group=group, user=outsider).is_facilitator
    groupkit.logged_in(student).post(f"/groups/{group.pk}/leave/")
    groupkit.logged_in(outsider).post(f"/groups/{group.pk}/leave/")
    assert not StudyGroup.objects.filter(pk=group.pk).exists()


def test_facilitator_appoints_and_a_group_keeps_at_least_one(
    group: StudyGroup, fay: User, student: User
) -> None:
    client = groupkit.logged_in(fay)
    client.post(f"/groups/{group.pk}/members/{student.pk}/role/", {"role": "facilitator"})
    assert GroupMembership.objects.get(group=group, user=student).is_facilitator
    client.post(f"/groups/{group.pk}/members/{student.pk}/role/", {"role": "member"})
    page = client.post(
        f"/groups/{group.pk}/members/{fay.pk}/role/", {"role": "member"}, follow=True
    )
    assert b"A group needs at least one facilitator" in page.content
    assert GroupMembership.objects.get(group=group, user=fay).is_facilitator


def test_the_role_page_does_not_tell_an_outsider_from_an_unknown_user_id(
    group: StudyGroup, fay: User, outsider: User
) -> None:
    client = groupkit.logged_in(fay)
    unknown = User.objects.order_by("-pk").first().pk + 100
    for user_id in (outsider.pk, unknown):
        response = client.post(f"/groups/{group.pk}/members/{user_id}/role/", {"role": "member"})
        assert response.status_code == 404
    assert not GroupMembership.objects.filter(user=outsider).exists()


def test_the_role_page_reaches_members_of_this_group_only(
    group: StudyGroup, catalogue: groupkit.Catalogue, fay: User, outsider: User
) -> None:
    # outsider belongs to another group: fay may not change their role there through hers.
    other = groupkit.make_group(catalogue=catalogue, facilitator=UserFactory(username="lee"))
    services_groups.group_join(group=other, user=outsider)
    response = groupkit.logged_in(fay).post(
        f"/groups/{group.pk}/members/{outsider.pk}/role/", {"role": "facilitator"}
    )
    assert response.status_code == 404
    assert not GroupMembership.objects.get(group=other, user=outsider).is_facilitator


def test_appointing_someone_outside_the_group_is_refused(group: StudyGroup, outsider: User) -> None:
    with pytest.raises(ValidationError):
        services_groups.membership_set_role(group=group, member=outsider, role="facilitator")


def test_facilitator_plans_the_schedule_with_modules_of_the_track_only(
    group: StudyGroup, fay: User, catalogue: groupkit.Catalogue
) -> None:
    client = groupkit.logged_in(fay)
    module = catalogue.modules[1]
    response = client.post(
        f"/groups/{group.pk}/schedule/",
        {"module": module.pk, "week_start": "2026-12-07", "due_date": "2026-12-13", "note": "MLE"},
    )
    assert response.status_code == 302
    assert GroupScheduleEntry.objects.filter(group=group, module=module, note="MLE").exists()
    backwards = client.post(
        f"/groups/{group.pk}/schedule/",
        {"module": module.pk, "week_start": "2026-12-07", "due_date": "2026-12-01"},
    )
    assert b"must not be before" in backwards.content
    stray = Module.objects.create(slug="stray", title="Stray", skill="Stray")
    refused = client.post(
        f"/groups/{group.pk}/schedule/",
        {"module": stray.pk, "week_start": "2026-12-07", "due_date": "2026-12-13"},
    )
    assert b"Select a valid choice" in refused.content
    with pytest.raises(ValidationError):
        services_groups.schedule_entry_create(
            group=group,
            module=stray,
            week_start=timezone.localdate(),
            due_date=timezone.localdate(),
        )


def test_this_week_appears_on_the_dashboard_with_the_members_own_count(
    group: StudyGroup, student: User, catalogue: groupkit.Catalogue
) -> None:
    first = catalogue.exercises[catalogue.modules[0].pk]
    groupkit.solve(student, first[0])
    body = groupkit.logged_in(student).get("/dashboard/").content.decode()
    assert "This week in your groups" in body
    assert "Gradient gang" in body and "Module 0" in body
    assert "you solved 1 of 3" in body


def test_next_weeks_plan_is_not_this_week(group: StudyGroup, student: User) -> None:
    GroupScheduleEntry.objects.update(
        week_start=timezone.localdate() + timedelta(days=14),
        due_date=timezone.localdate() + timedelta(days=20),
    )
    body = groupkit.logged_in(student).get("/dashboard/").content.decode()
    assert "Nothing is planned for this week" in body


def test_board_shows_each_members_status_and_never_answers(
    group: StudyGroup, fay: User, student: User, catalogue: groupkit.Catalogue
) -> None:
    first, second, _ = catalogue.exercises[catalogue.modules[0].pk]
    groupkit.solve(student, first)
    groupkit.attempt(fay, second, score=0.4)
    board = group_board(group=group, viewer=fay)
    statuses = {row.membership.user.username: row.statuses for row in board.rows}
    assert statuses == {
        "fay": ["not-started", "attempted", "not-started"],
        "sam": ["solved", "not-started", "not-started"],
    }
    assert [(t.solved, t.attempted, t.not_started) for t in board.totals] == [
        (1, 0, 1),
        (0, 1, 1),
        (0, 0, 2),
    ]
    page = groupkit.logged_in(fay).get(f"/groups/{group.pk}/board/").content.decode()
    assert 'class="cell cell-solved"' in page and 'class="cell cell-attempted"' in page
    assert "<svg" in page and "Group mastery by skill" in page
    assert "REFERENCE-ANSWER" not in page


def test_group_mastery_averages_members_and_marks_the_viewer(
    group: StudyGroup, fay: User, student: User, catalogue: groupkit.Catalogue
) -> None:
    for exercise in catalogue.exercises[catalogue.modules[0].pk]:
        groupkit.solve(student, exercise)
    board = group_board(group=group, viewer=student)
    skill = board.skills[0]
    assert skill.mastery == pytest.approx(50.0)  # sam 100%, fay 0%
    assert skill.viewer == pytest.approx(100.0)
    assert skill.members_started == 1
    assert board.skills[1].mastery == 0.0


def test_a_member_can_hide_their_row_from_the_group(
    group: StudyGroup, fay: User, student: User, catalogue: groupkit.Catalogue
) -> None:
    groupkit.solve(student, catalogue.exercises[catalogue.modules[0].pk][0])
    groupkit.logged_in(student).post(f"/groups/{group.pk}/visibility/", {"hide_details": "1"})
    assert GroupMembership.objects.get(user=student, group=group).hide_details

    page = groupkit.logged_in(fay).get(f"/groups/{group.pk}/board/").content.decode()
    assert "sam" not in page
    assert "+ 1 member who keeps their details private (not counted below" in page
    assert "0 solved, 0 tried" in page and "1 solved" not in page
    own = groupkit.logged_in(student).get(f"/groups/{group.pk}/board/").content.decode()
    assert "hidden from others" in own and "1 solved, 0 tried" in own

    table = groupkit.logged_in(fay).get(f"/groups/{group.pk}/progress/?format=csv")
    rows = list(csv.reader(io.StringIO(table.content.decode())))
    labels = [row[0] for row in rows]
    assert "sam" not in labels and not any("with hidden details" in x for x in labels[1:-1])
    assert rows[-1][0] == "1 shown learner (1 member with hidden details not counted)"
    assert rows[-1][1] == "0/3"

    groupkit.logged_in(student).post(f"/groups/{group.pk}/visibility/", {"hide_details": "0"})
    page = groupkit.logged_in(fay).get(f"/groups/{group.pk}/board/").content.decode()
    assert "sam" in page and "1 solved, 0 tried" in page


def test_group_progress_csv_has_a_row_per_member_and_module(
    group: StudyGroup, fay: User, student: User, catalogue: groupkit.Catalogue
) -> None:
    for exercise in catalogue.exercises[catalogue.modules[1].pk][:2]:
        groupkit.solve(student, exercise)
    response = groupkit.logged_in(fay).get(f"/groups/{group.pk}/progress/?format=csv")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["learner", "Module 0", "Module 1"]
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["sam"][1:5] == ["0/3", "2/3", "2", "6"]
    assert by_name["fay"][1:5] == ["0/3", "0/3", "0", "6"]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_cannot_smuggle_spreadsheet_formulas(
    catalogue: groupkit.Catalogue, instructor: User, start: str
) -> None:
    from course.services import enrollment_create

    sneaky = UserFactory(username=f"{start}cmd|' /C calc'!A0")
    enrollment_create(user=sneaky, track=catalogue.track)
    Module.objects.filter(pk=catalogue.modules[0].pk).update(title=f"{start}HYPERLINK(x)")
    response = groupkit.logged_in(instructor).get("/insight/tracks/applied/?format=csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][1] == f"'{start}HYPERLINK(x)"
    assert rows[1][0] == f"'{start}cmd|' /C calc'!A0"
    assert rows[1][1] == "0/3"  # harmless cells are left alone


def test_track_progress_lists_enrolled_learners_for_instructors(
    catalogue: groupkit.Catalogue, instructor: User, student: User
) -> None:
    from course.services import enrollment_create

    enrollment_create(user=student, track=catalogue.track)
    groupkit.solve(student, catalogue.exercises[catalogue.modules[0].pk][0])
    page = groupkit.logged_in(instructor).get("/insight/tracks/applied/").content.decode()
    assert "sam" in page and "1/3" in page and "Download CSV" in page


def test_a_question_with_latex_is_sanitised_and_rendered_as_math(
    group: StudyGroup, student: User, catalogue: groupkit.Catalogue
) -> None:
    exercise = catalogue.exercises[catalogue.modules[0].pk][1]
    client = groupkit.logged_in(student)
    response = client.post(
        f"/groups/{group.pk}/threads/",
        {
            "title": "Why is the gradient $2x$?",
            "topic": f"exercise:{exercise.pk}",
            "body": "I get $\\frac{d}{dx}x^2 = x$ <script>alert(1)</script>"
            " [x](javascript:alert(1)) <img src=x onerror=alert(1)>",
        },
    )
    thread = GroupThread.objects.get()
    assert response["Location"] == f"/groups/{group.pk}/threads/{thread.pk}/"
    assert thread.exercise == exercise and thread.lesson == exercise.lesson
    post = GroupPost.objects.get()
    assert '<span class="math math-inline">\\frac{d}{dx}x^2 = x</span>' in post.body_html
    assert "<script" not in post.body_html and "&lt;script&gt;" in post.body_html
    assert 'href="javascript' not in post.body_html
    assert "<img" not in post.body_html
    page = client.get(thread.get_absolute_url()).content.decode()
    assert "math math-inline" in page and "<script>alert(1)" not in page
    assert "Exercise 0.1" in page


def test_replies_notify_followers_on_the_dashboard_until_they_read(
    group: StudyGroup, fay: User, student: User
) -> None:
    thread = services_groups.thread_create(group=group, author=student, title="Stuck", body="Help")
    assert new_replies_for_user(user=student) == []
    fay_client = groupkit.logged_in(fay)
    fay_client.post(thread.get_absolute_url(), {"body": "Try the chain rule."})
    fay_client.post(thread.get_absolute_url(), {"body": "And $e^x$."})
    dashboard = groupkit.logged_in(student).get("/dashboard/").content.decode()
    assert "New replies" in dashboard and "2 new" in dashboard and "Stuck" in dashboard
    # fay follows because she replied, but her own replies are not news to her.
    assert new_replies_for_user(user=fay) == []

    groupkit.logged_in(student).get(thread.get_absolute_url())
    assert new_replies_for_user(user=student) == []
    assert "New replies" not in groupkit.logged_in(student).get("/dashboard/").content.decode()


def test_replies_stop_notifying_after_leaving_the_group(
    group: StudyGroup, fay: User, student: User
) -> None:
    thread = services_groups.thread_create(group=group, author=student, title="Stuck", body="Help")
    services_groups.post_create(thread=thread, author=fay, body="Answer")
    assert [notice.thread for notice in new_replies_for_user(user=student)] == [thread]
    services_groups.group_leave(group=group, user=student)
    assert new_replies_for_user(user=student) == []


def test_helpful_marks_toggle_and_answer_htmx_with_a_partial(
    group: StudyGroup, fay: User, student: User
) -> None:
    thread = services_groups.thread_create(group=group, author=student, title="Stuck", body="Help")
    reply = services_groups.post_create(thread=thread, author=fay, body="Chain rule.")
    client = groupkit.logged_in(student)
    url = f"/groups/{group.pk}/posts/{reply.pk}/helpful/"
    response = client.post(url, {"helpful": "1"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "1 found this helpful" in body and "Unmark helpful" in body
    assert "<html" not in body
    assert HelpfulMark.objects.filter(post=reply, user=student).exists()
    client.post(url, {"helpful": "0"})
    assert not HelpfulMark.objects.exists()


def test_empty_replies_are_refused(group: StudyGroup, student: User) -> None:
    thread = services_groups.thread_create(group=group, author=student, title="Stuck", body="Help")
    response = groupkit.logged_in(student).post(thread.get_absolute_url(), {"body": "   "})
    assert response.status_code == 200 and b"This field is required" in response.content
    with pytest.raises(ValidationError):
        services_groups.post_create(thread=thread, author=student, body="  ")


def test_threads_of_another_group_are_not_reachable(
    group: StudyGroup, catalogue: groupkit.Catalogue, student: User
) -> None:
    other = groupkit.make_group(catalogue=catalogue, facilitator=UserFactory(username="olga"))
    foreign = services_groups.thread_create(
        group=other, author=other.memberships.get().user, title="Ours", body="Private"
    )
    client = groupkit.logged_in(student)
    assert client.get(f"/groups/{group.pk}/threads/{foreign.pk}/").status_code == 404
    foreign_post = foreign.posts.get()
    assert client.post(f"/groups/{group.pk}/posts/{foreign_post.pk}/helpful/").status_code == 404
    entry = other.schedule.get()
    fay_client = groupkit.logged_in(group.memberships.get(role="facilitator").user)
    assert fay_client.post(f"/groups/{group.pk}/schedule/{entry.pk}/delete/").status_code == 404
    assert GroupScheduleEntry.objects.filter(pk=entry.pk).exists()


def test_questions_can_be_listed_and_asked_per_exercise(
    group: StudyGroup, student: User, catalogue: groupkit.Catalogue
) -> None:
    first, second, _ = catalogue.exercises[catalogue.modules[0].pk]
    services_groups.thread_create(
        group=group, author=student, title="About the first", body="?", exercise=first
    )
    services_groups.thread_create(group=group, author=student, title="General", body="?")
    client = groupkit.logged_in(student)
    page = client.get(f"/groups/{group.pk}/threads/?topic=exercise:{first.pk}").content.decode()
    assert "About the first" in page and "General" not in page
    assert f'<option value="exercise:{first.pk}" selected>' in page  # the form asks about it too
    other = client.get(f"/groups/{group.pk}/threads/?topic=exercise:{second.pk}").content.decode()
    assert "About the first" not in other
    everything = client.get(f"/groups/{group.pk}/threads/?topic=nonsense").content.decode()
    assert "About the first" in everything and "General" in everything


def test_progress_page_keeps_the_facilitators_tabs_and_shows_instructors_none(
    group: StudyGroup, fay: User, instructor: User
) -> None:
    mine = groupkit.logged_in(fay).get(f"/groups/{group.pk}/progress/").content.decode()
    assert "Settings &amp; invites" in mine and "Download CSV" in mine
    theirs = groupkit.logged_in(instructor).get(f"/groups/{group.pk}/progress/").content.decode()
    assert "Settings &amp; invites" not in theirs and "fay" in theirs


@pytest.mark.parametrize(
    ("days", "shown"),
    [(0, "last post 0\xa0minutes ago"), (1, "last post yesterday"), (9, "last post 9 days ago")],
)
def test_the_thread_list_counts_calendar_days_since_the_last_post(
    group: StudyGroup, student: User, days: int, shown: str
) -> None:
    thread = services_groups.thread_create(group=group, author=student, title="Stuck", body="Help")
    # 23:59 local time that many days back (now, for today): a day counted as 24 hours would
    # give one day fewer for most of the day.
    day = timezone.localdate() - timedelta(days=days)
    at = timezone.now() if days == 0 else timezone.make_aware(datetime.combine(day, time(23, 59)))
    GroupThread.objects.filter(pk=thread.pk).update(last_post_at=at)
    page = groupkit.logged_in(student).get(f"/groups/{group.pk}/threads/").content.decode()
    assert shown in page

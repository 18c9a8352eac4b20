"""Writes for study groups: membership and roles, the schedule, question threads and replies."""

from __future__ import annotations

import secrets
from datetime import date, datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from course.markdown import render_markdown
from course.models import (
    Exercise,
    GroupMembership,
    GroupPost,
    GroupScheduleEntry,
    GroupThread,
    HelpfulMark,
    Lesson,
    Module,
    Notification,
    StudyGroup,
    ThreadSubscription,
    Track,
    User,
)
from course.services import enrollment_create
from course.services_notifications import notifications_create, notifications_read_thread

MAX_POST_CHARS = 10_000


# Invite codes are read aloud and typed from a phone: lower case, no look-alikes (0/o, 1/l/i),
# two groups of five. 31 letters ^ 10 ≈ 2^49 codes; guessing one online is hopeless.
INVITE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
INVITE_LENGTH = 10


def _new_invite_code() -> str:
    code = "".join(secrets.choice(INVITE_ALPHABET) for _position in range(INVITE_LENGTH))
    return f"{code[:5]}-{code[5:]}"


@transaction.atomic
def group_create(
    *,
    creator: User,
    track: Track,
    name: str,
    description: str = "",
    privacy: str = StudyGroup.Privacy.PRIVATE,
) -> StudyGroup:
    """Create a group for a track with its creator as the first facilitator."""
    group = StudyGroup.objects.create(
        name=name.strip(),
        description=description.strip(),
        track=track,
        privacy=privacy,
        invite_code=_new_invite_code(),
        created_by=creator,
    )
    GroupMembership.objects.create(group=group, user=creator, role=GroupMembership.Role.FACILITATOR)
    enrollment_create(user=creator, track=track)
    return group


def group_update(*, group: StudyGroup, name: str, description: str, privacy: str) -> StudyGroup:
    """Change a group's name, description and privacy."""
    group.name = name.strip()
    group.description = description.strip()
    group.privacy = privacy
    group.save(update_fields=["name", "description", "privacy"])
    return group


def group_rotate_invite(*, group: StudyGroup) -> str:
    """Replace the invite code, so links shared before stop working."""
    group.invite_code = _new_invite_code()
    group.save(update_fields=["invite_code"])
    return group.invite_code


def group_join(*, group: StudyGroup, user: User) -> GroupMembership:
    """Add a learner to a group as a member, enrolled in its track; joining twice changes nothing."""
    try:
        with transaction.atomic():
            membership, _ = GroupMembership.objects.get_or_create(group=group, user=user)
    except IntegrityError:  # a concurrent join of the same user won the race
        membership = GroupMembership.objects.get(group=group, user=user)
    enrollment_create(user=user, track=group.track)
    return membership


@transaction.atomic
def group_leave(*, group: StudyGroup, user: User) -> None:
    """Remove a learner; the last facilitator's role passes to the longest-standing member.

    A group nobody belongs to any more is deleted with its threads.
    """
    # Lock the group row so two facilitators leaving at once cannot both skip the hand-over.
    StudyGroup.objects.select_for_update().filter(pk=group.pk).first()
    GroupMembership.objects.filter(group=group, user=user).delete()
    remaining = GroupMembership.objects.filter(group=group)
    if not remaining.exists():
        group.delete()
        return
    if not remaining.filter(role=GroupMembership.Role.FACILITATOR).exists():
        heir = remaining.order_by("joined_at", "id").first()
        assert heir is not None
        heir.role = GroupMembership.Role.FACILITATOR
        heir.save(update_fields=["role"])


@transaction.atomic
def membership_set_role(*, group: StudyGroup, member: User, role: str) -> GroupMembership:
    """Appoint a member as facilitator or step one back; a group always keeps one facilitator."""
    if role not in GroupMembership.Role.values:
        raise ValidationError(_("Unknown role."))
    StudyGroup.objects.select_for_update().filter(pk=group.pk).first()
    membership = GroupMembership.objects.filter(group=group, user=member).first()
    if membership is None:
        raise ValidationError(_("That learner is not in this group."))
    if role == GroupMembership.Role.MEMBER and membership.is_facilitator:
        others = GroupMembership.objects.filter(
            group=group, role=GroupMembership.Role.FACILITATOR
        ).exclude(pk=membership.pk)
        if not others.exists():
            raise ValidationError(_("A group needs at least one facilitator."))
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


def membership_set_hidden(*, membership: GroupMembership, hidden: bool) -> GroupMembership:
    """Choose whether the board shows this member's details or keeps them out of everything.

    A hidden member counts in no row, total, mastery or table that others see
    (selectors_groups._counted states the guarantee).
    """
    membership.hide_details = hidden
    membership.save(update_fields=["hide_details"])
    return membership


@transaction.atomic
def schedule_entry_create(
    *,
    group: StudyGroup,
    module: Module,
    week_start: date,
    due_date: date,
    note: str = "",
    planner: User | None = None,
) -> GroupScheduleEntry:
    """Plan a module of the group's track for the week starting week_start; tell the members."""
    if not group.track.modules.filter(pk=module.pk).exists():
        raise ValidationError(_("That module is not part of this group's track."))
    if due_date < week_start:
        raise ValidationError(_("The due date must not be before the start of the week."))
    entry = GroupScheduleEntry.objects.create(
        group=group, module=module, week_start=week_start, due_date=due_date, note=note.strip()
    )
    members = GroupMembership.objects.filter(group=group).values_list("user_id", flat=True)
    notifications_create(
        kind=Notification.Kind.SCHEDULE,
        user_ids=[pk for pk in members if planner is None or pk != planner.pk],
        group=group,
        entry=entry,
    )
    return entry


def schedule_entry_delete(*, entry: GroupScheduleEntry) -> None:
    entry.delete()


def _subscribe(*, thread: GroupThread, user: User, at: datetime) -> None:
    ThreadSubscription.objects.update_or_create(
        thread=thread, user=user, defaults={"last_read_at": at}
    )


def post_body_check(body: str) -> str:
    """Return the post's text stripped, or raise ValidationError saying why it cannot be posted."""
    body = body.strip()
    if not body:
        raise ValidationError(_("Write something first."))
    if len(body) > MAX_POST_CHARS:
        raise ValidationError(
            _("Posts are limited to %(limit)s characters.") % {"limit": MAX_POST_CHARS}
        )
    return body


@transaction.atomic
def thread_create(
    *,
    group: StudyGroup,
    author: User,
    title: str,
    body: str,
    lesson: Lesson | None = None,
    exercise: Exercise | None = None,
) -> GroupThread:
    """Ask a question in a group; the asker follows the thread."""
    title = title.strip()
    if not title:
        raise ValidationError(_("Give the question a title."))
    body = post_body_check(body)
    if exercise is not None and lesson is None:
        lesson = exercise.lesson
    now = timezone.now()
    thread = GroupThread.objects.create(
        group=group,
        author=author,
        title=title[:200],
        lesson=lesson,
        exercise=exercise,
        created_at=now,
        last_post_at=now,
    )
    GroupPost.objects.create(
        thread=thread, author=author, body=body, body_html=render_markdown(body), created_at=now
    )
    _subscribe(thread=thread, user=author, at=now)
    return thread


@transaction.atomic
def post_create(*, thread: GroupThread, author: User, body: str) -> GroupPost:
    """Reply in a thread; the replier follows it and the others see it as new on their dashboard."""
    body = post_body_check(body)
    now = timezone.now()
    post = GroupPost.objects.create(
        thread=thread, author=author, body=body, body_html=render_markdown(body), created_at=now
    )
    GroupThread.objects.filter(pk=thread.pk).update(last_post_at=now)
    _subscribe(thread=thread, user=author, at=now)
    followers = ThreadSubscription.objects.filter(thread=thread).exclude(user=author)
    notifications_create(
        kind=Notification.Kind.REPLY,
        user_ids=list(followers.values_list("user_id", flat=True)),
        group=thread.group,
        thread=thread,
        post=post,
        at=now,
    )
    return post


def post_set_helpful(*, post: GroupPost, user: User, helpful: bool) -> None:
    """Mark (or unmark) someone else's post as helpful."""
    if post.author_id == user.pk:
        raise PermissionDenied("You cannot mark your own post as helpful.")
    if helpful:
        HelpfulMark.objects.get_or_create(post=post, user=user)
    else:
        HelpfulMark.objects.filter(post=post, user=user).delete()


def thread_mark_read(*, thread: GroupThread, user: User) -> None:
    """Record that a follower has read the thread up to now, and its notifications with it."""
    ThreadSubscription.objects.filter(thread=thread, user=user).update(last_read_at=timezone.now())
    notifications_read_thread(user=user, thread=thread)

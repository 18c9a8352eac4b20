"""Writes for notifications: create them when something happens, mark them read, send digests.

A notification is written once per recipient in the transaction of what it reports (a reply, a
group plan), so it exists exactly when that does. The daily digest sends each learner who asked
for it one e-mail listing what they have not read in the app and not been sent before; a
notification is marked as e-mailed only after the mail backend accepted the message, so a failed
send is tried again the next day and a sent one never twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from course.models import GroupPost, GroupScheduleEntry, GroupThread, Notification, StudyGroup, User

log = logging.getLogger(__name__)

DIGEST_MAX_ITEMS = 20


def notifications_create(
    *,
    kind: str,
    user_ids: list[int],
    group: StudyGroup,
    thread: GroupThread | None = None,
    post: GroupPost | None = None,
    entry: GroupScheduleEntry | None = None,
    at: datetime | None = None,
) -> int:
    """Tell each of these learners about one event; return how many notifications were written."""
    at = at or timezone.now()
    recipients = sorted(set(user_ids))
    with transaction.atomic():
        created = Notification.objects.bulk_create(
            Notification(
                user_id=user_id,
                kind=kind,
                group=group,
                thread=thread,
                post=post,
                entry=entry,
                created_at=at,
            )
            for user_id in recipients
        )
        User.objects.filter(pk__in=recipients).update(
            unread_notifications=F("unread_notifications") + 1
        )
    return len(created)


def _recount(user: User) -> None:
    """Set the learner's unread count from their rows (after marking some read)."""
    unread = Notification.objects.filter(user=user, read_at__isnull=True).count()
    User.objects.filter(pk=user.pk).update(unread_notifications=unread)
    user.unread_notifications = unread


def notifications_mark_read(*, user: User, ids: list[int] | None = None) -> int:
    """Mark the learner's unread notifications (all, or those ids) read; return how many."""
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=ids)
    marked = unread.update(read_at=timezone.now())
    if marked:
        _recount(user)
    return marked


def notifications_read_thread(*, user: User, thread: GroupThread) -> None:
    """Opening a thread reads the notifications about it (no write when there are none)."""
    if not user.unread_notifications:
        return
    marked = Notification.objects.filter(user=user, thread=thread, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    if marked:
        _recount(user)


def user_set_email_digest(*, user: User, enabled: bool) -> None:
    user.email_digest = enabled
    user.save(update_fields=["email_digest"])


@dataclass
class DigestReport:
    sent: int = 0  # e-mails
    items: int = 0  # notifications in them
    failed: int = 0  # e-mails the backend refused (tried again next time)


def digests_send(*, now: datetime | None = None) -> DigestReport:
    """Send every learner who asked for it one e-mail of their unread, not yet e-mailed items."""
    now = now or timezone.now()
    report = DigestReport()
    pending = Notification.objects.filter(
        read_at__isnull=True, emailed_at__isnull=True, user__email_digest=True, user__is_active=True
    ).exclude(user__email="")
    for user in User.objects.filter(pk__in=pending.values("user_id")).order_by("pk"):
        items = list(
            pending.filter(user=user)
            .select_related("group", "thread", "entry__module")
            .order_by("-created_at", "-id")[:DIGEST_MAX_ITEMS]
        )
        if not items:
            continue
        if _send_digest(user, items):
            with transaction.atomic():
                Notification.objects.filter(pk__in=[n.pk for n in items]).update(emailed_at=now)
            report.sent += 1
            report.items += len(items)
        else:
            report.failed += 1
    return report


def _send_digest(user: User, items: list[Notification]) -> bool:
    site = settings.SITE_URL.rstrip("/")
    with translation.override(user.language or settings.LANGUAGE_CODE):
        context = {
            "user": user,
            "items": items,
            "site": site,
            "inbox_url": site + reverse("notification_list"),
        }
        subject = render_to_string("course/email/digest_subject.txt", context).strip()
        body = render_to_string("course/email/digest.txt", context)
    try:
        send_mail(subject, body, None, [user.email])
    except Exception:  # noqa: BLE001 - any backend failure: keep the items for the next digest
        log.exception("digest_send_failed user_id=%s", user.pk)
        return False
    return True

"""The course catalogue (synced from files), learners, enrolment and progress."""

from __future__ import annotations

import hashlib
import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from course.usernames import mixed_script_problem, username_key


class User(AbstractUser):
    class Role(models.TextChoices):
        STUDENT = "student", _("Student")
        INSTRUCTOR = "instructor", _("Instructor")
        STAFF = "staff", _("Staff")

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.STUDENT)
    # How the username looks (see course/usernames.py): unique, so no name can pass for another.
    username_key = models.CharField(max_length=64, unique=True, editable=False)
    # The interface language the learner chose; empty follows the browser (Accept-Language).
    language = models.CharField(max_length=16, choices=settings.LANGUAGES, blank=True, default="")
    # Send a daily e-mail listing the notifications not read in the app (off unless asked for).
    email_digest = models.BooleanField(default=False)
    # How many notifications are unread: kept on the row every request loads anyway, so the
    # header shows it without a query (course/services_notifications.py keeps it true).
    unread_notifications = models.PositiveIntegerField(default=0, editable=False)

    # The role decides access: instructors and staff get the instructor tools, and staff (or a
    # superuser) also gets Django's admin, whose own check reads is_staff, so set the role through
    # set_role(), which keeps is_staff in step.

    @property
    def is_instructor(self) -> bool:
        """Say whether this user may teach: preview unpublished exercises and see class insight."""
        return (
            self.role in (self.Role.INSTRUCTOR, self.Role.STAFF)
            or self.is_staff
            or self.is_superuser
        )

    def clean(self) -> None:
        """Refuse a username that mixes alphabets or looks like another account's name."""
        super().clean()
        if not self.username:
            return
        mixed = mixed_script_problem(self.username)
        if mixed:
            raise ValidationError(
                {
                    "username": _(
                        "Use letters from one alphabet: this name mixes %(scripts)s letters, "
                        "which can make it look like someone else's."
                    )
                    % {"scripts": mixed}
                },
                code="mixed_script",
            )
        taken = User.objects.filter(username_key=username_key(self.username))
        if taken.exclude(pk=self.pk).exists():
            raise ValidationError(
                {"username": _("That name is taken, or looks the same as one that is.")},
                code="look_alike",
            )

    def save(self, *args: object, **kwargs: object) -> None:
        """Store the username's look-alike key with it (a derived column, kept in step here)."""
        self.username_key = username_key(self.username)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "username" in update_fields:
            kwargs["update_fields"] = {*update_fields, "username_key"}  # type: ignore[misc]
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def set_role(self, role: str) -> None:
        """Give the user a role and the admin access that goes with it (not saved)."""
        self.role = role
        self.is_staff = role == self.Role.STAFF or self.is_superuser


class CatalogueQuerySet(models.QuerySet):
    def live(self) -> CatalogueQuerySet:
        return self.filter(retired_at__isnull=True)


class ExerciseQuerySet(CatalogueQuerySet):
    def reachable(self) -> ExerciseQuerySet:
        """Keep live exercises whose lesson and module are live too."""
        return self.live().filter(
            lesson__retired_at__isnull=True, lesson__module__retired_at__isnull=True
        )


class CatalogueItem(models.Model):
    """Fields every synced item shares: a permanent id from its file, and retirement."""

    uuid = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=200)
    source_path = models.CharField(max_length=500, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    # {"zh-Hans": {field: text, ...}}: the translations that are complete and current at the last
    # sync (course.translations), mirroring the English fields; learners read them through
    # course.localize.
    translations = models.JSONField(default=dict, blank=True)

    objects = CatalogueQuerySet.as_manager()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.title


class Module(CatalogueItem):
    slug = models.SlugField(max_length=100)
    summary = models.TextField(blank=True)
    skill = models.CharField(max_length=200)
    prerequisites = models.ManyToManyField("self", symmetrical=False, blank=True, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["slug"], condition=Q(retired_at__isnull=True), name="module_live_slug"
            )
        ]


class Track(CatalogueItem):
    slug = models.SlugField(max_length=100)
    summary = models.TextField(blank=True)
    order = models.PositiveIntegerField(default=0)
    modules = models.ManyToManyField(Module, through="TrackModule", related_name="tracks")

    class Meta:
        ordering = ["order"]
        constraints = [
            models.UniqueConstraint(
                fields=["slug"], condition=Q(retired_at__isnull=True), name="track_live_slug"
            )
        ]

    def get_absolute_url(self) -> str:
        return reverse("track_detail", args=[self.slug])


class TrackModule(models.Model):
    track = models.ForeignKey(Track, on_delete=models.CASCADE)
    module = models.ForeignKey(Module, on_delete=models.CASCADE)
    order = models.PositiveIntegerField()

    class Meta:
        ordering = ["order"]
        constraints = [
            models.UniqueConstraint(fields=["track", "module"], name="track_module_once")
        ]

    def __str__(self) -> str:
        return f"{self.track_id}:{self.order}:{self.module_id}"


class Lesson(CatalogueItem):
    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="lessons")
    slug = models.SlugField(max_length=100)
    order = models.PositiveIntegerField()
    body = models.TextField(help_text="Markdown with LaTeX, as written in lesson.md")
    body_html = models.TextField(help_text="Sanitised HTML rendered from body at sync")
    # What body_html was rendered from: the body under the renderer's sources (course.content
    # rendered_hash); sync_course renders again only when it changes.
    html_hash = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["module_id", "order"]
        constraints = [
            models.UniqueConstraint(
                fields=["module", "slug"],
                condition=Q(retired_at__isnull=True),
                name="lesson_live_slug",
            )
        ]

    def get_absolute_url(self) -> str:
        return reverse("lesson_detail", args=[self.module.slug, self.slug])


class Exercise(CatalogueItem):
    class Kind(models.TextChoices):
        EXPRESSION = "expression", _("Expression")
        MATRIX = "matrix", _("Matrix expression")
        DERIVATION = "derivation", _("Derivation")
        CODE = "code", _("Code")

    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="exercises")
    slug = models.SlugField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    order = models.PositiveIntegerField(default=1000)
    published = models.BooleanField(default=True)
    spec = models.JSONField(help_text="The exercise file as loaded; the grading engine reads it")
    # course.content.validated_hash of the file this row was synced from: the file's bytes under the
    # spec validator's sources. sync_course does not validate again a file it has validated.
    source_hash = models.CharField(max_length=64, blank=True, default="")

    objects = ExerciseQuerySet.as_manager()

    class Meta:
        ordering = ["lesson_id", "order", "slug"]
        constraints = [
            models.UniqueConstraint(
                fields=["slug"], condition=Q(retired_at__isnull=True), name="exercise_live_slug"
            )
        ]

    def get_absolute_url(self) -> str:
        return reverse("exercise_detail", args=[self.slug])

    @property
    def hints(self) -> list[str]:
        return list(self.spec.get("hints", []))

    @property
    def hint_after(self) -> int:
        """Return the wrong attempts before any hint may be shown (0: hints on demand at once)."""
        return int(self.spec.get("hint_after", 0))

    @property
    def solution(self) -> str:
        return str(self.spec.get("solution") or "")

    def seed_for(self, user_id: int) -> int:
        """Return the variant seed of this exercise for one learner: stable, different per learner."""
        digest = hashlib.sha256(f"{self.uuid}:{user_id}".encode()).digest()
        return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


class Enrollment(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="enrollments")
    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="enrollments")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "track"], name="enrol_once")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.track_id}"


class LessonVisit(models.Model):
    """The last time a learner opened a lesson: drives "continue where you left off"."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="lesson_visits")
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="visits")
    visited_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "lesson"], name="visit_once")]
        indexes = [models.Index(fields=["user", "-visited_at"])]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.lesson_id} at {self.visited_at:%Y-%m-%d %H:%M}"


class ExerciseProgress(models.Model):
    """One learner's standing on one exercise, updated in the same transaction as each verdict."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="exercise_progress")
    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="progress")
    attempts = models.PositiveIntegerField(default=0)
    best_score = models.FloatField(default=0.0)
    solved_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # When the learner gave up and asked for the worked solution (kept, so the page remembers).
    gave_up_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "exercise"], name="progress_once")]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.exercise_id}: {self.attempts} attempts"

    @property
    def solved(self) -> bool:
        return self.solved_at is not None

    @property
    def gave_up(self) -> bool:
        return self.gave_up_at is not None


# --- Study groups, question threads and learner activity ---------------------------------------


class StudyGroup(models.Model):
    """Learners working through one track together, on a schedule the facilitators plan."""

    class Privacy(models.TextChoices):
        PRIVATE = "private", _("Private — invite only")
        LISTED = "listed", _("Listed — anyone can find and join it")

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="study_groups")
    privacy = models.CharField(max_length=16, choices=Privacy.choices, default=Privacy.PRIVATE)
    invite_code = models.CharField(max_length=32, unique=True)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(User, through="GroupMembership", related_name="study_groups")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("group_detail", args=[self.pk])

    @property
    def is_listed(self) -> bool:
        return self.privacy == self.Privacy.LISTED


class GroupMembership(models.Model):
    class Role(models.TextChoices):
        MEMBER = "member", _("Member")
        FACILITATOR = "facilitator", _("Facilitator")

    group = models.ForeignKey(StudyGroup, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="group_memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    hide_details = models.BooleanField(
        default=False,
        help_text="Keep this member out of everything others see of the group, totals included",
    )
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["joined_at", "id"]
        constraints = [models.UniqueConstraint(fields=["group", "user"], name="group_member_once")]

    def __str__(self) -> str:
        return f"{self.user_id} in group {self.group_id} ({self.role})"

    @property
    def is_facilitator(self) -> bool:
        return self.role == self.Role.FACILITATOR


class GroupScheduleEntry(models.Model):
    """One module the group plans to cover in the week starting week_start, finished by due_date."""

    group = models.ForeignKey(StudyGroup, on_delete=models.CASCADE, related_name="schedule")
    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="+")
    week_start = models.DateField()
    due_date = models.DateField()
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["week_start", "due_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(due_date__gte=models.F("week_start")), name="schedule_due_after_start"
            )
        ]
        indexes = [models.Index(fields=["group", "week_start"])]

    def __str__(self) -> str:
        return f"group {self.group_id}: module {self.module_id} from {self.week_start}"


class GroupThread(models.Model):
    """A question asked in a group, optionally about one lesson or exercise."""

    group = models.ForeignKey(StudyGroup, on_delete=models.CASCADE, related_name="threads")
    author = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    title = models.CharField(max_length=200)
    lesson = models.ForeignKey(
        Lesson, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    exercise = models.ForeignKey(
        Exercise, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    last_post_at = models.DateTimeField()

    class Meta:
        ordering = ["-last_post_at", "-id"]
        indexes = [models.Index(fields=["group", "-last_post_at"])]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("group_thread_detail", args=[self.group_id, self.pk])


class GroupPost(models.Model):
    """The question (first post) or a reply; body_html is rendered and sanitised when written."""

    thread = models.ForeignKey(GroupThread, on_delete=models.CASCADE, related_name="posts")
    author = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    body = models.TextField()
    body_html = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["thread", "created_at"])]

    def __str__(self) -> str:
        return f"post {self.pk} in thread {self.thread_id}"


class HelpfulMark(models.Model):
    post = models.ForeignKey(GroupPost, on_delete=models.CASCADE, related_name="helpful_marks")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "user"], name="helpful_once")]

    def __str__(self) -> str:
        return f"{self.user_id} found post {self.post_id} helpful"


class ThreadSubscription(models.Model):
    """A learner following a thread (they asked or replied); replies after last_read_at are new."""

    thread = models.ForeignKey(GroupThread, on_delete=models.CASCADE, related_name="subscriptions")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="thread_subscriptions")
    last_read_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["thread", "user"], name="subscribe_once")]

    def __str__(self) -> str:
        return f"{self.user_id} follows thread {self.thread_id}"


class Notification(models.Model):
    """Something a learner should hear about: a reply in a thread they follow, a group plan.

    Written when it happens (services_groups), read in the app (the header's count and the
    notifications page) and, for those who asked, sent once in a daily e-mail digest.
    """

    class Kind(models.TextChoices):
        REPLY = "reply", _("Reply")
        SCHEDULE = "schedule", _("Group plan")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    group = models.ForeignKey(StudyGroup, on_delete=models.CASCADE, related_name="+")
    thread = models.ForeignKey(
        GroupThread, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    post = models.ForeignKey(
        GroupPost, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    entry = models.ForeignKey(
        GroupScheduleEntry, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["user", "-created_at"],
                condition=Q(read_at__isnull=True),
                name="notification_unread",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}"

    def get_absolute_url(self) -> str:
        if self.post_id is not None and self.thread_id is not None:
            return f"{reverse('group_thread_detail', args=[self.group_id, self.thread_id])}#post-{self.post_id}"
        if self.thread_id is not None:
            return reverse("group_thread_detail", args=[self.group_id, self.thread_id])
        return reverse("group_detail", args=[self.group_id])


class ActivityDay(models.Model):
    """How many graded attempts (and first solves) a learner made on one calendar day."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="activity_days")
    day = models.DateField()
    attempts = models.PositiveIntegerField(default=0)
    solved = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["day"]
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="activity_day_once")]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.day}: {self.attempts} attempts"


class AuthThrottle(models.Model):
    """Recent failed sign-ins (or reset requests) for one account name or one client address.

    `key` is a keyed hash of the name or address (course/throttle.py), so typed names, which may
    be mistyped passwords, are never stored. A row with `blocked_until` in the future refuses
    attempts without checking the password at all.
    """

    class Scope(models.TextChoices):
        SIGNIN_ACCOUNT = "signin-account", "Sign-in, per account name"
        SIGNIN_ADDRESS = "signin-address", "Sign-in, per address"
        RESET_EMAIL = "reset-email", "Password reset, per e-mail address"
        RESET_ADDRESS = "reset-address", "Password reset, per address"

    scope = models.CharField(max_length=16, choices=Scope.choices)
    key = models.CharField(max_length=64)
    count = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField()
    blocked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="auth_throttle_once"),
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key[:8]}: {self.count}"

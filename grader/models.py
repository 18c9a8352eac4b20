"""Submissions: one answer to one exercise, from queued to graded."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from course.models import Exercise
from grader.engine import CODE_KINDS, Verdict


class Submission(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Grading")
        FINISHED = "finished", _("Graded")
        ERROR = "error", _("Could not be graded")

    class Purpose(models.TextChoices):
        CHECK = "check", _("Check")
        # A run of a code answer on the visible tests only: never an attempt.
        TESTS = "tests", _("Run of the visible tests")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="submissions"
    )
    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="submissions")
    purpose = models.CharField(max_length=16, choices=Purpose.choices, default=Purpose.CHECK)
    seed = models.BigIntegerField(help_text="The variant seed the answer was given for")
    answer = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    queue = models.CharField(max_length=100)
    verdict = models.JSONField(null=True, blank=True)
    score = models.FloatField(null=True, blank=True)
    # Set only for verdicts that use an attempt, in the transaction that stores the verdict.
    attempt_number = models.PositiveIntegerField(null=True, blank=True)
    # How many times the submission has been put on the queue (the first time included).
    tries = models.PositiveIntegerField(default=1)
    task_id = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    enqueued_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    grading_ms = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "exercise", "-created_at"]),
            models.Index(fields=["user", "-created_at"]),
            models.Index(
                fields=["status", "enqueued_at"],
                condition=models.Q(status__in=["queued", "running"]),
                name="submission_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"submission {self.pk} by {self.user_id} on {self.exercise_id}: {self.status}"

    def get_absolute_url(self) -> str:
        return reverse("submission_detail", args=[self.pk])

    @property
    def is_pending(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def is_code(self) -> bool:
        return self.exercise.kind in CODE_KINDS

    def get_verdict(self) -> Verdict | None:
        """Return the stored verdict as the engine's Verdict, or None while it is pending."""
        return Verdict.from_dict(self.verdict) if self.verdict else None

    @property
    def verdict_status(self) -> str | None:
        return self.verdict.get("status") if self.verdict else None

    @property
    def counted(self) -> bool:
        return self.attempt_number is not None

    @property
    def turnaround_ms(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.created_at).total_seconds() * 1000

    def summary(self) -> dict[str, Any]:
        """Return the fields the status endpoint and logs report."""
        return {
            "id": self.pk,
            "status": self.status,
            "verdict": self.verdict_status,
            "score": self.score,
            "attempt_number": self.attempt_number,
        }


class GradingBudget(models.Model):
    """A learner's bucket of grading seconds (grader.ratelimit): refilled over time, charged by cost.

    `seconds` is the level at `updated_at`; the level now adds the refill since then, up to the
    capacity. It may be negative after an answer cost more than was set aside for it.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="grading_budget",
    )
    seconds = models.FloatField()
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"grading budget of {self.user_id}: {self.seconds:.2f} s at {self.updated_at}"


class GradingTicket(models.Model):
    """What one submission set aside and cost, and its turn in its learner's line (grader.fairshare).

    A code submission starts HELD (in the database only, not on the broker); grader.fairshare sends
    it (SENT) when its queue has a free slot and its learner has nothing else running. Every other
    submission starts SENT. SETTLED: its cost was charged to the learner's budget.
    """

    class State(models.TextChoices):
        HELD = "held", _("Waiting for its turn")
        SENT = "sent", _("Sent to a worker")
        SETTLED = "settled", _("Charged")

    submission = models.OneToOneField(
        Submission, on_delete=models.CASCADE, primary_key=True, related_name="ticket"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="grading_tickets"
    )
    queue = models.CharField(max_length=100)
    state = models.CharField(max_length=16, choices=State.choices)
    reserved_s = models.FloatField(help_text="Seconds taken from the budget when it was accepted")
    cost_s = models.FloatField(null=True, blank=True, help_text="Seconds its grading cost")
    held_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["queue", "state", "held_at"])]

    def __str__(self) -> str:
        return f"ticket of submission {self.submission_id}: {self.state}"


class FairLane(models.Model):
    """One row per fair-share queue, locked while its next turns are chosen (one chooser at a time)."""

    queue = models.CharField(max_length=100, primary_key=True)

    def __str__(self) -> str:
        return f"fair lane {self.queue}"


class BenchRun(models.Model):
    """An instructor's check on the test bench: graded by a worker, never recorded as an attempt.

    It carries its own spec (the bench may grade the file on disk rather than the synced exercise).
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        FINISHED = "finished", _("Graded")
        ERROR = "error", _("Could not be graded")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bench_runs"
    )
    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="bench_runs")
    spec = models.JSONField()
    answer = models.TextField()
    seed = models.BigIntegerField()
    queue = models.CharField(max_length=100)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    verdict = models.JSONField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"bench run {self.pk} on {self.exercise_id}: {self.status}"

    def get_verdict(self) -> Verdict | None:
        return Verdict.from_dict(self.verdict) if self.verdict else None


class AnswerDraft(models.Model):
    """The text a learner is writing for an exercise, saved as they type and on every submission.

    One row per learner and exercise: the page restores it on reload, Back or another device.
    `window_saves` counts saves since `window_started_at`, which bounds how often one learner saves.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="answer_drafts"
    )
    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="drafts")
    text = models.TextField()
    updated_at = models.DateTimeField()
    window_started_at = models.DateTimeField()
    window_saves = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "exercise"], name="draft_once")]
        indexes = [models.Index(fields=["user", "window_started_at"])]

    def __str__(self) -> str:
        return f"draft by {self.user_id} on {self.exercise_id} ({len(self.text)} chars)"


class HintView(models.Model):
    """A learner asked to see one hint of an exercise (0-based index): for analytics and the page."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="hint_views"
    )
    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="hint_views")
    index = models.PositiveIntegerField()
    # Wrong attempts the learner had made when they asked: do hints come before or after trying?
    wrong_attempts = models.PositiveIntegerField(default=0)
    viewed_at = models.DateTimeField()

    class Meta:
        ordering = ["exercise_id", "index"]
        constraints = [
            models.UniqueConstraint(fields=["user", "exercise", "index"], name="hint_view_once")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} saw hint {self.index + 1} of {self.exercise_id}"

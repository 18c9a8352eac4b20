from __future__ import annotations

from django.contrib import admin

from grader.models import HintView, Submission


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "user",
        "exercise",
        "status",
        "score",
        "attempt_number",
        "tries",
        "created_at",
    )
    list_filter = ("status", "queue")
    search_fields = ("user__username", "exercise__slug")
    raw_id_fields = ("user", "exercise")
    readonly_fields = (
        "seed",
        "queue",
        "verdict",
        "score",
        "attempt_number",
        "tries",
        "task_id",
        "worker",
        "created_at",
        "enqueued_at",
        "claimed_at",
        "finished_at",
        "grading_ms",
    )


@admin.register(HintView)
class HintViewAdmin(admin.ModelAdmin):
    """Which hints learners asked for, and after how many wrong attempts (read-only records)."""

    list_display = ("exercise", "index", "user", "wrong_attempts", "viewed_at")
    list_filter = ("index",)
    search_fields = ("exercise__slug", "user__username")
    raw_id_fields = ("user", "exercise")
    readonly_fields = ("user", "exercise", "index", "wrong_attempts", "viewed_at")

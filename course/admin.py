from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest

from course.models import (
    ActivityDay,
    Enrollment,
    Exercise,
    ExerciseProgress,
    GroupMembership,
    GroupPost,
    GroupScheduleEntry,
    GroupThread,
    Lesson,
    Module,
    StudyGroup,
    Track,
    User,
)


@admin.register(User)
class ChainruleUserAdmin(UserAdmin):
    list_display = ("username", "email", "role", "is_staff", "date_joined")
    list_filter = ("role", "is_staff", "is_active")
    fieldsets = (
        *UserAdmin.fieldsets,
        (
            "Chainrule",
            {
                "fields": ("role",),
                "description": "Instructors and staff get the instructor tools; "
                "staff also opens this admin site (staff status follows the role).",
            },
        ),
    )
    readonly_fields = ("is_staff",)

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        obj.set_role(obj.role)
        super().save_model(request, obj, form, change)


@admin.register(Track)
class TrackAdmin(admin.ModelAdmin):
    list_display = ("title", "slug", "order", "retired_at")
    readonly_fields = ("uuid", "source_path")


@admin.register(Module)
class ModuleAdmin(admin.ModelAdmin):
    list_display = ("title", "slug", "skill", "retired_at")
    readonly_fields = ("uuid", "source_path")


@admin.register(Lesson)
class LessonAdmin(admin.ModelAdmin):
    list_display = ("title", "module", "slug", "order", "retired_at")
    list_filter = ("module",)
    readonly_fields = ("uuid", "source_path")


@admin.register(Exercise)
class ExerciseAdmin(admin.ModelAdmin):
    list_display = ("slug", "kind", "lesson", "published", "retired_at")
    list_filter = ("kind", "published")
    search_fields = ("slug", "title")
    readonly_fields = ("uuid", "source_path", "spec")


admin.site.register(Enrollment)
admin.site.register(ExerciseProgress)


class GroupMembershipInline(admin.TabularInline):
    model = GroupMembership
    extra = 0
    raw_id_fields = ("user",)


class GroupScheduleInline(admin.TabularInline):
    model = GroupScheduleEntry
    extra = 0


@admin.register(StudyGroup)
class StudyGroupAdmin(admin.ModelAdmin):
    list_display = ("name", "track", "privacy", "created_at")
    list_filter = ("privacy", "track")
    search_fields = ("name",)
    inlines = [GroupMembershipInline, GroupScheduleInline]


@admin.register(GroupThread)
class GroupThreadAdmin(admin.ModelAdmin):
    list_display = ("title", "group", "created_at")
    search_fields = ("title",)


@admin.register(GroupPost)
class GroupPostAdmin(admin.ModelAdmin):
    list_display = ("thread", "author", "created_at")
    raw_id_fields = ("author", "thread")


admin.site.register(ActivityDay)

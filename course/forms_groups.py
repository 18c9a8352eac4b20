"""Forms for study groups: creating and editing a group, planning the schedule, asking and replying."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from course.models import Exercise, Lesson, Module, StudyGroup, Track
from course.services_groups import MAX_POST_CHARS


class GroupForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    description = forms.CharField(
        label=_("Description"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
    )
    privacy = forms.ChoiceField(
        label=_("Privacy"), choices=StudyGroup.Privacy.choices, initial=StudyGroup.Privacy.PRIVATE
    )


class GroupCreateForm(GroupForm):
    track = forms.ModelChoiceField(
        label=_("Track"), queryset=Track.objects.none(), empty_label=None
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["track"].queryset = Track.objects.live().order_by("order")
        self.order_fields(["name", "track", "description", "privacy"])


class ScheduleEntryForm(forms.Form):
    module = forms.ModelChoiceField(
        label=_("Module"), queryset=Module.objects.none(), empty_label=None
    )
    # A date input takes ISO dates whatever the language (Chinese formats would write 2026/12/05).
    week_start = forms.DateField(
        label=_("Week start"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    due_date = forms.DateField(
        label=_("Due date"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=200)

    def __init__(self, *args: Any, track: Track, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["module"].queryset = track.modules.live().order_by("trackmodule__order")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, due = data.get("week_start"), data.get("due_date")
        if start and due and due < start:
            self.add_error("due_date", _("The due date must not be before the start of the week."))
        return data


class ThreadForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    topic = forms.ChoiceField(required=False, label=_("About"))
    body = forms.CharField(
        label=_("Body"),
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=MAX_POST_CHARS,
        help_text=_("Markdown; write math as $x^2$ or $$\\sum_i x_i$$."),
    )

    def __init__(self, *args: Any, modules: list[Module], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices: list[tuple[str, Any]] = [("", _("The group in general"))]
        for module in modules:
            options = []
            for lesson in module.live_lessons:
                options.append(
                    (f"lesson:{lesson.pk}", _("Lesson: %(title)s") % {"title": lesson.title})
                )
                options += [
                    (f"exercise:{e.pk}", _("Exercise: %(title)s") % {"title": e.title})
                    for e in lesson.visible_exercises
                ]
            if options:
                choices.append((module.title, options))
        self.fields["topic"].choices = choices
        self._lessons = {lesson.pk: lesson for m in modules for lesson in m.live_lessons}
        self._exercises = {
            e.pk: e for m in modules for lesson in m.live_lessons for e in lesson.visible_exercises
        }

    def topic_objects(self) -> tuple[Lesson | None, Exercise | None]:
        """Return the lesson or exercise the question is about, from the cleaned topic."""
        kind, _, pk = (self.cleaned_data.get("topic") or "").partition(":")
        if kind == "lesson":
            return self._lessons.get(int(pk)), None
        if kind == "exercise":
            exercise = self._exercises.get(int(pk))
            return (exercise.lesson if exercise else None), exercise
        return None, None


class ReplyForm(forms.Form):
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=MAX_POST_CHARS,
        label=_("Your reply"),
        help_text=_(
            "Markdown; write math as $x^2$. Explain the idea — do not paste a full answer."
        ),
    )

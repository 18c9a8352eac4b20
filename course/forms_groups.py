"""Forms for study groups: creating and editing a group, planning the schedule, asking and replying."""

from __future__ import annotations

from typing import Any

from django import forms

from course.models import Exercise, Lesson, Module, StudyGroup, Track
from course.services_groups import MAX_POST_CHARS


class GroupForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=2000
    )
    privacy = forms.ChoiceField(
        choices=StudyGroup.Privacy.choices, initial=StudyGroup.Privacy.PRIVATE
    )


class GroupCreateForm(GroupForm):
    track = forms.ModelChoiceField(queryset=Track.objects.none(), empty_label=None)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["track"].queryset = Track.objects.live().order_by("order")
        self.order_fields(["name", "track", "description", "privacy"])


class ScheduleEntryForm(forms.Form):
    module = forms.ModelChoiceField(queryset=Module.objects.none(), empty_label=None)
    week_start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    due_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(required=False, max_length=200)

    def __init__(self, *args: Any, track: Track, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["module"].queryset = track.modules.live().order_by("trackmodule__order")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, due = data.get("week_start"), data.get("due_date")
        if start and due and due < start:
            self.add_error("due_date", "The due date must not be before the start of the week.")
        return data


class ThreadForm(forms.Form):
    title = forms.CharField(max_length=200)
    topic = forms.ChoiceField(required=False, label="About")
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=MAX_POST_CHARS,
        help_text="Markdown; write math as $x^2$ or $$\\sum_i x_i$$.",
    )

    def __init__(self, *args: Any, modules: list[Module], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices: list[tuple[str, Any]] = [("", "The group in general")]
        for module in modules:
            options = []
            for lesson in module.live_lessons:
                options.append((f"lesson:{lesson.pk}", f"Lesson: {lesson.title}"))
                options += [
                    (f"exercise:{e.pk}", f"Exercise: {e.title}") for e in lesson.visible_exercises
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
        label="Your reply",
        help_text="Markdown; write math as $x^2$. Explain the idea — do not paste a full answer.",
    )

"""Pages of study groups: joining, the schedule, the progress board, questions and progress tables."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from course import selectors
from course import selectors_groups as groups
from course import services_groups as services
from course.forms_groups import (
    GroupCreateForm,
    GroupForm,
    ReplyForm,
    ScheduleEntryForm,
    ThreadForm,
)
from course.markdown import render_markdown
from course.models import GroupMembership

# A cell starting with one of these runs as a formula in a spreadsheet (OWASP, CSV injection).
CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(cell: str) -> str:
    return f"'{cell}" if cell.startswith(CSV_FORMULA_STARTS) else cell


def _csv_response(filename: str, rows: list[list[str]]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    for row in rows:
        writer.writerow([_csv_cell(cell) for cell in row])
    return response


@login_required
@require_GET
def group_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "course/groups/list.html",
        {
            "memberships": groups.group_list_for_user(user=request.user),
            "listed": groups.group_list_listed(user=request.user),
        },
    )


@login_required
def group_create(request: HttpRequest) -> HttpResponse:
    form = GroupCreateForm(request.POST or None, initial={"track": request.GET.get("track")})
    if request.method == "POST" and form.is_valid():
        group = services.group_create(creator=request.user, **form.cleaned_data)
        messages.success(
            request, _("Your group is ready. Share the invite link with your friends.")
        )
        return redirect("group_settings", group.pk)
    return render(request, "course/groups/create.html", {"form": form})


@login_required
@require_GET
def group_detail(request: HttpRequest, group_id: int) -> HttpResponse:
    group, membership = groups.access_group(request.user, group_id, listed=True)
    if membership is None:
        return render(request, "course/groups/about.html", {"group": group, "invite": None})
    plans = [p for p in groups.this_week_for_user(user=request.user) if p.group.pk == group.pk]
    return render(
        request,
        "course/groups/detail.html",
        {
            "group": group,
            "membership": membership,
            "plan": plans[0] if plans else None,
            "schedule": groups.group_schedule(group=group),
            "threads": groups.thread_list(group=group)[:5],
            "members": groups.group_members(group=group),
        },
    )


@login_required
@require_POST
def group_join(request: HttpRequest, group_id: int) -> HttpResponse:
    group, membership = groups.access_group(request.user, group_id, listed=True)
    if membership is None:
        services.group_join(group=group, user=request.user)
        messages.success(request, _("You joined %(group)s.") % {"group": group.name})
    return redirect(group)


def group_invite(request: HttpRequest, code: str) -> HttpResponse:
    """Show the group an invite opens; joining needs an account, and sign-up comes back here."""
    group, membership = groups.access_group_by_invite(request.user, code)
    if not request.user.is_authenticated:
        if request.method == "POST":
            return redirect_to_login(request.get_full_path())
        return render(request, "course/groups/about.html", {"group": group, "invite": code})
    if request.method == "POST":
        services.group_join(group=group, user=request.user)
        messages.success(request, _("You joined %(group)s.") % {"group": group.name})
        return redirect(group)
    if membership is not None:
        return redirect(group)
    return render(request, "course/groups/about.html", {"group": group, "invite": code})


@login_required
@require_GET
def group_join_code(request: HttpRequest) -> HttpResponse:
    code = request.GET.get("code", "").strip()
    if code:
        # Accept a pasted link as well as the bare code.
        return redirect("group_invite", code.rstrip("/").rsplit("/", 1)[-1])
    return render(request, "course/groups/join_code.html")


@login_required
@require_POST
def group_leave(request: HttpRequest, group_id: int) -> HttpResponse:
    group, _membership = groups.access_group(request.user, group_id)
    services.group_leave(group=group, user=request.user)
    messages.info(request, _("You left %(group)s.") % {"group": group.name})
    return redirect("group_list")


@login_required
def group_settings(request: HttpRequest, group_id: int) -> HttpResponse:
    group, membership = groups.access_group(request.user, group_id, write=True)
    initial = {"name": group.name, "description": group.description, "privacy": group.privacy}
    form = GroupForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.group_update(group=group, **form.cleaned_data)
        messages.success(request, _("Group settings saved."))
        return redirect("group_settings", group.pk)
    invite_url = request.build_absolute_uri(reverse("group_invite", args=[group.invite_code]))
    return render(
        request,
        "course/groups/settings.html",
        {
            "group": group,
            "membership": membership,
            "form": form,
            "invite_url": invite_url,
            "members": groups.group_members(group=group),
        },
    )


@login_required
@require_POST
def group_rotate_invite(request: HttpRequest, group_id: int) -> HttpResponse:
    group, _membership = groups.access_group(request.user, group_id, write=True)
    services.group_rotate_invite(group=group)
    messages.success(request, _("New invite link created; the old one no longer works."))
    return redirect("group_settings", group_id)


@login_required
@require_POST
def group_member_role(request: HttpRequest, group_id: int, user_id: int) -> HttpResponse:
    group, _membership = groups.access_group(request.user, group_id, write=True)
    member = groups.member_get(group=group, user_id=user_id)
    role = request.POST.get("role", "")
    try:
        services.membership_set_role(group=group, member=member.user, role=role)
        if role == GroupMembership.Role.FACILITATOR:
            done = _("%(username)s is now a facilitator.")
        else:
            done = _("%(username)s is now a member.")
        messages.success(request, done % {"username": member.user.username})
    except ValidationError as error:
        messages.error(request, error.messages[0])
    return redirect("group_settings", group_id)


@login_required
@require_POST
def group_visibility(request: HttpRequest, group_id: int) -> HttpResponse:
    _group, membership = groups.access_group(request.user, group_id)
    hidden = request.POST.get("hide_details") == "1"
    services.membership_set_hidden(membership=membership, hidden=hidden)
    if hidden:
        messages.info(
            request,
            _(
                "Your details are hidden: nothing the others see of this group is computed from "
                "your progress, not even its totals."
            ),
        )
    else:
        messages.info(request, _("Your progress now shows on the group board."))
    return redirect("group_board", group_id)


@login_required
def group_schedule(request: HttpRequest, group_id: int) -> HttpResponse:
    # Members read the schedule; its facilitators plan it.
    group, membership = groups.access_group(request.user, group_id, write=request.method == "POST")
    form = ScheduleEntryForm(request.POST or None, track=group.track)
    if request.method == "POST" and form.is_valid():
        services.schedule_entry_create(group=group, planner=request.user, **form.cleaned_data)
        messages.success(
            request,
            _("%(module)s is on the schedule.") % {"module": form.cleaned_data["module"].title},
        )
        return redirect("group_schedule", group_id)
    context = {"group": group, "membership": membership, "form": form}
    context["schedule"] = groups.group_schedule(group=group)
    return render(request, "course/groups/schedule.html", context)


@login_required
@require_POST
def group_schedule_delete(request: HttpRequest, group_id: int, entry_id: int) -> HttpResponse:
    group, _membership = groups.access_group(request.user, group_id, write=True)
    entry = groups.schedule_entry_get(group=group, entry_id=entry_id)
    services.schedule_entry_delete(entry=entry)
    messages.info(request, _("Removed from the schedule."))
    return redirect("group_schedule", group_id)


@login_required
@require_GET
def group_board(request: HttpRequest, group_id: int) -> HttpResponse:
    group, membership = groups.access_group(request.user, group_id)
    board = groups.group_board(group=group, viewer=request.user)
    return render(
        request,
        "course/groups/board.html",
        {"group": group, "membership": membership, "board": board},
    )


@login_required
def thread_list(request: HttpRequest, group_id: int) -> HttpResponse:
    group, membership = groups.access_group(request.user, group_id)
    modules = groups.lesson_and_exercise_choices(track=group.track)
    form = ThreadForm(request.POST or None, modules=modules, initial=request.GET.dict())
    if request.method == "POST" and form.is_valid():
        lesson, exercise = form.topic_objects()
        thread = services.thread_create(
            group=group,
            author=request.user,
            title=form.cleaned_data["title"],
            body=form.cleaned_data["body"],
            lesson=lesson,
            exercise=exercise,
        )
        return redirect(thread)
    topic = request.GET.get("topic", "")
    threads = groups.thread_list(group=group, topic=topic)
    context = {"group": group, "membership": membership, "form": form, "topic": topic}
    return render(request, "course/groups/threads.html", {**context, "threads": threads})


@login_required
def thread_detail(request: HttpRequest, group_id: int, thread_id: int) -> HttpResponse:
    group, membership = groups.access_group(request.user, group_id)
    thread = groups.thread_get(group=group, thread_id=thread_id)
    form = ReplyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        post = services.post_create(
            thread=thread, author=request.user, body=form.cleaned_data["body"]
        )
        return redirect(f"{thread.get_absolute_url()}#post-{post.pk}")
    services.thread_mark_read(thread=thread, user=request.user)
    posts = groups.thread_posts(thread=thread, viewer=request.user)
    return render(
        request,
        "course/groups/thread_detail.html",
        {
            "group": group,
            "membership": membership,
            "thread": thread,
            "posts": posts,
            "form": form,
        },
    )


@login_required
@require_POST
def post_helpful(request: HttpRequest, group_id: int, post_id: int) -> HttpResponse:
    group, _membership = groups.access_group(request.user, group_id)
    post = groups.post_get(group=group, post_id=post_id)
    services.post_set_helpful(
        post=post, user=request.user, helpful=request.POST.get("helpful") == "1"
    )
    if request.htmx:
        post = next(
            p
            for p in groups.thread_posts(thread=post.thread, viewer=request.user)
            if p.pk == post.pk
        )
        return render(
            request,
            "course/groups/thread_detail.html#helpful",
            {"group": group, "post": post},
        )
    return redirect(f"{post.thread.get_absolute_url()}#post-{post.pk}")


@login_required
@require_GET
def group_progress(request: HttpRequest, group_id: int) -> HttpResponse:
    group, membership = groups.access_group(request.user, group_id, write=True, teach=True)
    table = groups.group_progress_table(group=group, viewer=request.user)
    if request.GET.get("format") == "csv":
        return _csv_response(f"group-{group.pk}-progress.csv", table.csv_rows())
    context = {"group": group, "membership": membership, "table": table}
    return render(request, "course/groups/progress.html", context)


@login_required
@require_GET
def track_progress(request: HttpRequest, slug: str) -> HttpResponse:
    track = selectors.access_track(request.user, slug, teach=True)
    table = groups.track_progress_table(track=track)
    if request.GET.get("format") == "csv":
        return _csv_response(f"track-{track.slug}-progress.csv", table.csv_rows())
    return render(request, "course/groups/track_progress.html", {"track": track, "table": table})


@login_required
@require_POST
def post_preview(request: HttpRequest, group_id: int) -> HttpResponse:
    """Render a post being written as it will appear (sanitised Markdown; the page typesets math)."""
    groups.access_group(request.user, group_id)
    try:
        context = {"html": render_markdown(services.post_body_check(request.POST.get("body", "")))}
    except ValidationError as refusal:
        context = {"problem": refusal.messages[0]}
    return render(request, "course/groups/_preview.html", context)

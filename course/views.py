"""Pages of the course: home, tracks, lessons, dashboard, sign-up and enrolment."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from course import selectors, selectors_groups, selectors_path, selectors_progress, services
from course.catalogue import catalogue
from course.forms import SignupForm


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "course/home.html", {"tracks": selectors.track_list()})


def track_detail(request: HttpRequest, slug: str) -> HttpResponse:
    track = selectors.access_track(request.user, slug)
    outline = selectors.track_outline(track=track, user=request.user)
    enrolled = selectors.is_enrolled(user=request.user, track=track)
    return render(
        request,
        "course/track_detail.html",
        {
            "track": track,
            "outline": outline,
            "enrolled": enrolled,
            "continuation": (
                selectors_path.track_continuation(user=request.user, track=track)
                if enrolled
                else None
            ),
            "solved": sum(row.solved for row in outline),
            "exercises": sum(row.exercises for row in outline),
        },
    )


@login_required
@require_POST
def track_enrol(request: HttpRequest, slug: str) -> HttpResponse:
    track = selectors.access_track(request.user, slug)
    services.enrollment_create(user=request.user, track=track)
    messages.success(
        request, _("You are enrolled in the %(track)s track.") % {"track": track.title}
    )
    return redirect(track)


@login_required
@require_POST
def track_leave(request: HttpRequest, slug: str) -> HttpResponse:
    track = selectors.access_track(request.user, slug)
    services.enrollment_delete(user=request.user, track=track)
    messages.info(
        request, _("You left the %(track)s track. Your progress is kept.") % {"track": track.title}
    )
    return redirect(track)


def lesson_detail(request: HttpRequest, module_slug: str, lesson_slug: str) -> HttpResponse:
    lesson = selectors.lesson_get(module_slug=module_slug, lesson_slug=lesson_slug)
    track = selectors.lesson_track(
        lesson=lesson, user=request.user, requested=request.GET.get("track")
    )
    previous, following = selectors.lesson_neighbours(lesson=lesson, track=track)
    if request.user.is_authenticated:
        services.lesson_visit_record(user=request.user, lesson=lesson)
    exercises = list(lesson.exercises.live().filter(published=True).order_by("order", "slug"))
    solved = selectors.solved_exercise_ids(request.user)
    return render(
        request,
        "course/lesson_detail.html",
        {
            "lesson": lesson,
            "module": lesson.module,
            "track": track,
            "exercises": [(exercise, exercise.id in solved) for exercise in exercises],
            "previous": previous,
            "next": following,
            "prerequisites": list(lesson.module.prerequisites.live()),
        },
    )


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    # The learner's progress is read once and shared by every panel (see test_page_queries).
    user = request.user
    progress = selectors.learner_progress(user)
    skills = selectors_progress.learner_mastery(user=user, progress=progress)
    tracks = selectors.enrolled_track_progress(user=user, progress=progress)
    continuation = selectors_path.continue_where_left_off(
        user=user, tracks=[row.track for row in tracks], progress=progress
    )
    return render(
        request,
        "course/dashboard.html",
        {
            "continuation": continuation,
            "tracks": tracks,
            "skills": skills,
            "skills_chart": selectors_progress.mastery_chart(skills),
            "all_tracks": catalogue().tracks,
            "group_weeks": selectors_groups.this_week_for_user(
                user=user, solved=selectors.solved_in(progress)
            ),
            "reply_notices": selectors_groups.new_replies_for_user(user=user),
            "review": selectors_progress.review_queue(user=user, progress=progress),
            "activity": selectors_progress.learner_activity(user=user),
        },
    )


def _safe_next(request: HttpRequest) -> str:
    """Return where the learner was going before signing up (an invite link), if it is this site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if allowed else ""


def signup(request: HttpRequest) -> HttpResponse:
    following = _safe_next(request)
    if request.user.is_authenticated:
        return redirect(following or "dashboard")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # The learner keeps the language they signed up in, on every device, until they switch.
        form.instance.language = get_language()
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(
            request,
            _("Welcome to Chainrule, %(username)s. Pick a track to start.")
            % {"username": user.username},
        )
        return redirect(following or "home")
    return render(request, "registration/signup.html", {"form": form, "next": following})

"""Pages of notifications: the learner's list, marking it read, and the e-mail digest setting."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from course import selectors_notifications as selectors
from course import services_notifications as services


@login_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    items = selectors.notification_list(user=request.user)
    return render(request, "course/notifications.html", {"items": items})


@login_required
@require_POST
def notification_read(request: HttpRequest) -> HttpResponse:
    services.notifications_mark_read(user=request.user)
    messages.success(request, _("All notifications are marked as read."))
    return redirect("notification_list")


@login_required
@require_POST
def notification_digest(request: HttpRequest) -> HttpResponse:
    enabled = request.POST.get("email_digest") == "1"
    services.user_set_email_digest(user=request.user, enabled=enabled)
    if enabled and not request.user.email:
        messages.warning(
            request,
            _("Add an e-mail address to your account first: the digest has nowhere to go."),
        )
    elif enabled:
        messages.success(request, _("You will get a daily e-mail of what you have not read."))
    else:
        messages.success(request, _("No more digest e-mails."))
    return redirect("notification_list")

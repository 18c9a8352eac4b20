"""Sign-in and password reset under the throttle of course/throttle.py."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse_lazy

from course.forms import AdminSignInForm, LimitedPasswordResetForm, SignInForm


class SignInView(auth_views.LoginView):
    """Django's sign-in page; a throttled attempt answers 429 with Retry-After."""

    authentication_form = SignInForm

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        if form.retry_after:
            response.status_code = 429
            response["Retry-After"] = str(form.retry_after)
        return response


class AdminSignInView(SignInView):
    """The admin site's sign-in page, under the same throttle (replaces admin.site.login)."""

    authentication_form = AdminSignInForm
    template_name = "admin/login.html"
    next_page = reverse_lazy("admin:index")

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if admin.site.has_permission(request):  # already in: as admin.site.login does
            return redirect(self.get_success_url())
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(admin.site.each_context(self.request))
        context.setdefault("app_path", self.request.get_full_path())
        return context


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset page; mail goes out only within the reset limits."""

    form_class = LimitedPasswordResetForm

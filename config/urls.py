"""URL routes of the whole site."""

from django.contrib import admin
from django.urls import include, path

from config.views import favicon
from course.views_accounts import AdminSignInView, PasswordResetView, SignInView

urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),
    path("admin/login/", AdminSignInView.as_view(), name="admin_login"),
    path("admin/", admin.site.urls),
    path("accounts/login/", SignInView.as_view(), name="login"),
    path("accounts/password_reset/", PasswordResetView.as_view(), name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("course.urls")),
    path("", include("grader.urls")),
    path("", include("grader.urls_insight")),
    path("instructor/exercises/", include("grader.urls_instructor")),
]

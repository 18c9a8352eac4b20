"""URL routes of the whole site."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("course.urls")),
    path("", include("grader.urls")),
    path("", include("grader.urls_insight")),
    path("instructor/exercises/", include("grader.urls_instructor")),
]

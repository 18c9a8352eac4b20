"""Routes of instructor insight, mounted at the site root under /insight/."""

from django.urls import path

from grader import views_insight

urlpatterns = [
    path("insight/", views_insight.insight_index, name="insight_index"),
    path("insight/exercises/<slug:slug>/", views_insight.insight_exercise, name="insight_exercise"),
]

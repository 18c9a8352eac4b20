"""Routes of the instructor's exercise preview, mounted under /instructor/exercises/."""

from django.urls import path

from grader import views_instructor

urlpatterns = [
    path("", views_instructor.exercise_index, name="instructor_exercise_index"),
    path("<slug:slug>/", views_instructor.exercise_preview, name="exercise_preview"),
]

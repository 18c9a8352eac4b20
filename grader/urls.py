from django.urls import path

from grader import views

urlpatterns = [
    path("exercises/<slug:slug>/", views.exercise_detail, name="exercise_detail"),
    path("exercises/<slug:slug>/preview/", views.answer_preview, name="answer_preview"),
]

from django.urls import path

from grader import views

urlpatterns = [
    path("exercises/<slug:slug>/", views.exercise_detail, name="exercise_detail"),
    path("exercises/<slug:slug>/check/", views.answer_check, name="answer_check"),
    path("exercises/<slug:slug>/preview/", views.answer_preview, name="answer_preview"),
    path("exercises/<slug:slug>/draft/", views.answer_draft, name="answer_draft"),
    path("exercises/<slug:slug>/hints/", views.hint_show, name="hint_show"),
    path("exercises/<slug:slug>/give-up/", views.exercise_give_up, name="exercise_give_up"),
    path("submissions/<int:pk>/", views.submission_detail, name="submission_detail"),
    path("submissions/<int:pk>/status/", views.submission_status, name="submission_status"),
]

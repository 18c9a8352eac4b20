from django.urls import path

from course import views

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("accounts/signup/", views.signup, name="signup"),
    path("tracks/<slug:slug>/", views.track_detail, name="track_detail"),
    path("tracks/<slug:slug>/enrol/", views.track_enrol, name="track_enrol"),
    path("tracks/<slug:slug>/leave/", views.track_leave, name="track_leave"),
    path(
        "modules/<slug:module_slug>/<slug:lesson_slug>/", views.lesson_detail, name="lesson_detail"
    ),
]

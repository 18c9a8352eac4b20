from django.urls import path

from course import views, views_groups, views_language, views_notifications

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("accounts/signup/", views.signup, name="signup"),
    path("i18n/setlang/", views_language.set_language, name="set_language"),
    path("tracks/<slug:slug>/", views.track_detail, name="track_detail"),
    path("tracks/<slug:slug>/enrol/", views.track_enrol, name="track_enrol"),
    path("tracks/<slug:slug>/leave/", views.track_leave, name="track_leave"),
    path(
        "modules/<slug:module_slug>/<slug:lesson_slug>/", views.lesson_detail, name="lesson_detail"
    ),
    # Notifications
    path("notifications/", views_notifications.notification_list, name="notification_list"),
    path("notifications/read/", views_notifications.notification_read, name="notification_read"),
    path(
        "notifications/digest/",
        views_notifications.notification_digest,
        name="notification_digest",
    ),
    # Study groups
    path("groups/", views_groups.group_list, name="group_list"),
    path("groups/new/", views_groups.group_create, name="group_create"),
    path("groups/join/", views_groups.group_join_code, name="group_join_code"),
    path("groups/join/<str:code>/", views_groups.group_invite, name="group_invite"),
    path("groups/<int:group_id>/", views_groups.group_detail, name="group_detail"),
    path("groups/<int:group_id>/join/", views_groups.group_join, name="group_join"),
    path("groups/<int:group_id>/leave/", views_groups.group_leave, name="group_leave"),
    path("groups/<int:group_id>/settings/", views_groups.group_settings, name="group_settings"),
    path(
        "groups/<int:group_id>/invite/rotate/",
        views_groups.group_rotate_invite,
        name="group_rotate_invite",
    ),
    path(
        "groups/<int:group_id>/members/<int:user_id>/role/",
        views_groups.group_member_role,
        name="group_member_role",
    ),
    path(
        "groups/<int:group_id>/visibility/",
        views_groups.group_visibility,
        name="group_visibility",
    ),
    path("groups/<int:group_id>/schedule/", views_groups.group_schedule, name="group_schedule"),
    path(
        "groups/<int:group_id>/schedule/<int:entry_id>/delete/",
        views_groups.group_schedule_delete,
        name="group_schedule_delete",
    ),
    path("groups/<int:group_id>/board/", views_groups.group_board, name="group_board"),
    path("groups/<int:group_id>/progress/", views_groups.group_progress, name="group_progress"),
    path("groups/<int:group_id>/threads/", views_groups.thread_list, name="group_thread_list"),
    path("groups/<int:group_id>/preview/", views_groups.post_preview, name="group_post_preview"),
    path(
        "groups/<int:group_id>/threads/<int:thread_id>/",
        views_groups.thread_detail,
        name="group_thread_detail",
    ),
    path(
        "groups/<int:group_id>/posts/<int:post_id>/helpful/",
        views_groups.post_helpful,
        name="group_post_helpful",
    ),
    path("insight/tracks/<slug:slug>/", views_groups.track_progress, name="track_progress"),
]

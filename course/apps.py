from django.apps import AppConfig


class CourseConfig(AppConfig):
    name = "course"
    verbose_name = "Course"

    def ready(self) -> None:
        # The catalogue snapshot forgets itself when a catalogue row is written (its signals).
        from course import catalogue  # noqa: F401, PLC0415

from django.apps import AppConfig


class GraderConfig(AppConfig):
    """The grader app. The engine reads its own configuration (grader.engine.config)."""

    name = "grader"
    verbose_name = "Grader"

    def ready(self) -> None:
        # Register the Celery tasks in every process: the services send them by name.
        import grader.tasks  # noqa: F401, PLC0415 - needs the models loaded, hence here

from django.apps import AppConfig


class GraderConfig(AppConfig):
    """The grader app. The engine reads its own configuration (grader.engine.config)."""

    name = "grader"
    verbose_name = "Grader"

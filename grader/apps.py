from django.apps import AppConfig


class GraderConfig(AppConfig):
    name = "grader"
    verbose_name = "Grader"

    def ready(self) -> None:
        configure_engine()
        # Register the Celery tasks in every process: the services send them by name.
        import grader.tasks  # noqa: F401, PLC0415 - needs the models loaded, hence here


def configure_engine() -> None:
    """Hand the grading limits and sandbox policy from settings to the engine, in every process.

    The engine is Django-free and reads its own defaults; this makes the web process (instructor
    preview), the CLI and the Celery workers all grade under the same configured limits.
    """
    from django.conf import settings

    from grader.engine import isolation, sandbox

    isolation.configure(
        deadline_s=settings.GRADER_SYMBOLIC_TIMEOUT, memory_mb=settings.GRADER_MEMORY_MB
    )
    sandbox.configure(
        require_full=not settings.GRADER_ALLOW_REDUCED_SANDBOX,
        timeout_s=settings.GRADER_CODE_TIMEOUT,
        memory_mb=settings.GRADER_MEMORY_MB,
    )

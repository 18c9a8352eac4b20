from django.apps import AppConfig


class GraderConfig(AppConfig):
    name = "grader"
    verbose_name = "Grader"

    def ready(self) -> None:
        configure_engine()


def configure_engine() -> None:
    """Hand the code sandbox its policy from the engine's configuration, in every process.

    The symbolic grader reads grader.engine.config itself; the sandbox still has its own settings.
    """
    from django.conf import settings

    from grader.engine import sandbox

    config = settings.GRADER_ENGINE
    sandbox.configure(
        require_full=not config.allow_reduced_sandbox,
        timeout_s=config.code_timeout_s,
        memory_mb=config.memory_mb,
    )

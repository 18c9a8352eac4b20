"""Project configuration: settings, URLs, Celery app, WSGI/ASGI entry points."""

import os

# Every process here grades or serves one request at a time and there are as many processes as
# cores, so multi-threaded BLAS only contends — and it made the speed checks' reference timings
# swing 100-fold under load. Set before anything imports NumPy; the environment may override it.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

from config.celery import app as celery_app  # noqa: E402 - after the thread limits above

__all__ = ["celery_app"]

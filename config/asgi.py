"""ASGI entry point: the web server (gunicorn with uvicorn workers, or uvicorn; see README.md).

The status requests that wait for a verdict are async views (grader/views.py), so a waiting learner
holds no thread here. Django runs each request's sync code in a thread of its own under ASGI, so
database connections come from a pool per process (DB_POOL, config/settings.py) rather than
staying open per thread.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DB_POOL", "1")
application = get_asgi_application()

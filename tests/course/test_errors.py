"""RequestErrors: each has its own stable code, and htmx swaps every status they answer with."""

from __future__ import annotations

import json
import re
from pathlib import Path

from django.conf import settings

import grader.errors  # noqa: F401 - defines RequestErrors of its own
from course.errors import RequestError

BASE_TEMPLATE = Path(settings.BASE_DIR) / "templates" / "base.html"


def all_request_errors() -> list[type[RequestError]]:
    found, todo = [], [RequestError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def htmx_swaps(status: int) -> bool:
    """Say whether base.html's htmx-config swaps a response with this status (first rule wins)."""
    meta = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", BASE_TEMPLATE.read_text())
    assert meta is not None
    for rule in json.loads(meta.group(1))["responseHandling"]:
        if re.search(rule["code"], str(status)):
            return bool(rule["swap"])
    return False


def test_no_two_request_errors_define_the_same_code() -> None:
    # A subclass may reuse its parent's code (AnswersRateLimited words RateLimited for answers).
    codes = [cls.code for cls in all_request_errors() if "code" in vars(cls)]
    assert len(codes) == len(set(codes)), codes
    assert {"bad_request", "rate_limited", "too_large", "empty"} <= set(codes)


def test_htmx_swaps_every_request_error_status_and_no_other_error() -> None:
    for cls in all_request_errors():
        assert htmx_swaps(cls.http_status), cls
    assert not htmx_swaps(403) and not htmx_swaps(404) and not htmx_swaps(500)

"""RequestErrors: each has its own stable code, and htmx swaps every status they answer with."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

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


@pytest.mark.django_db
def test_an_unknown_address_gets_the_sites_own_404_page_in_the_readers_language() -> None:
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "<main" in page and "Page not found" in page and 'href="/"' in page
    chinese = Client(headers={"accept-language": "zh-hans"}).get("/no-such-page/")
    assert chinese.status_code == 404 and "找不到该页面" in chinese.content.decode()

"""A first visit of a code exercise, served as production serves it, stays under its byte budget.

The site runs with the production static storage (hashed, compressed files from collectstatic)
behind WhiteNoise, not Django's development file handler, and Chromium reports what crossed the
wire (DevTools' encodedDataLength: headers plus the compressed body) for every request.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test.testcases import LiveServerThread

from course.models import Lesson, Module, Track, TrackModule, User
from tests.browser.scenes import log_in
from tests.grader.conftest import contract_exercise
from tests.test_static import MANIFEST_STORAGES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BUDGET_BYTES = 300 * 1024


@pytest.fixture
def production_server(settings, tmp_path: Path) -> Iterator[str]:  # noqa: ANN001
    """Collect the static files as a deployment does and serve the site through WhiteNoise."""
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = MANIFEST_STORAGES
    call_command("collectstatic", "--noinput", verbosity=0, stdout=io.StringIO())
    settings.WHITENOISE_USE_FINDERS = False
    settings.WHITENOISE_AUTOREFRESH = False
    settings.MEDIA_URL = "/media/"
    # No development static handler in front: /static/ reaches WhiteNoise, as in production.
    server = LiveServerThread("127.0.0.1", static_handler=lambda application: application)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    if server.error:
        raise server.error
    yield f"http://127.0.0.1:{server.port}"
    server.terminate()


def test_a_first_visit_of_a_code_exercise_transfers_at_most_300_kb(
    production_server: str, browser: Any, student: User
) -> None:
    track = Track.objects.create(slug="applied", title="Applied")
    module = Module.objects.create(slug="layers", title="Layers", skill="Backward passes")
    TrackModule.objects.create(track=track, module=module, order=0)
    lesson = Lesson.objects.create(module=module, slug="activations", title="Activations", order=1)
    contract_exercise(lesson, "relu-backward")

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    log_in(context, production_server, student)
    page = context.new_page()
    session = context.new_cdp_session(page)
    session.send("Network.enable")
    urls: dict[str, str] = {}
    encodings: dict[str, str] = {}
    transferred: dict[str, int] = {}

    def received(event: dict[str, Any]) -> None:
        urls[event["requestId"]] = event["response"]["url"]
        headers = {k.lower(): v for k, v in event["response"]["headers"].items()}
        encodings[event["requestId"]] = headers.get("content-encoding", "")

    session.on("Network.responseReceived", received)
    session.on(
        "Network.loadingFinished",
        lambda event: transferred.__setitem__(event["requestId"], int(event["encodedDataLength"])),
    )
    try:
        page.goto(production_server + "/exercises/relu-backward/")
        page.locator(".CodeMirror").wait_for()
        page.wait_for_load_state("networkidle")
        rows = sorted(
            ((transferred[r], urls.get(r, "?"), encodings.get(r, "")) for r in transferred),
            reverse=True,
        )
    finally:
        context.close()
    total = sum(size for size, _, _ in rows)
    print(f"first visit of a code exercise: {total / 1024:.1f} KB in {len(rows)} responses")
    for size, url, encoding in rows:
        print(f"  {size / 1024:7.1f} KB  {encoding or 'identity':8s} {url.split('/static/')[-1]}")
    scripts = [(url, encoding) for _, url, encoding in rows if url.endswith(".js")]
    assert any("codemirror" in url and ".min." in url for url, _ in scripts), scripts
    assert all(encoding in ("gzip", "br") for _, encoding in scripts), (
        "scripts are served compressed"
    )
    assert total <= BUDGET_BYTES, (
        f"{total / 1024:.1f} KB transferred (budget {BUDGET_BYTES // 1024} KB)"
    )

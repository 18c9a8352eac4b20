"""Production static files: collectstatic with the manifest storage, and pages rendered from it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from tests.test_settings import PRODUCTION, manage

MANIFEST_STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}


def test_collectstatic_succeeds_with_the_production_settings(tmp_path: Path) -> None:
    result = manage(
        "collectstatic",
        "--noinput",
        **PRODUCTION,
        CHAINRULE_VAR_DIR=str(tmp_path),
        STATIC_ROOT=str(tmp_path / "static"),
    )
    assert result.returncode == 0, result.stderr
    paths = json.loads((tmp_path / "static" / "staticfiles.json").read_text())["paths"]
    assert "vendor/katex-0.16.22/fonts/KaTeX_AMS-Regular.ttf" in paths


@pytest.mark.django_db
def test_pages_render_and_serve_hashed_assets_with_debug_off(tmp_path: Path, settings) -> None:  # noqa: ANN001
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = MANIFEST_STORAGES
    call_command("collectstatic", "--noinput", verbosity=0, stdout=io.StringIO())
    settings.DEBUG = False
    settings.WHITENOISE_USE_FINDERS = False
    settings.WHITENOISE_AUTOREFRESH = False

    client = Client()
    response = client.get("/")
    assert response.status_code == 200
    css = next(
        part.split('"')[0]
        for part in response.content.decode().split('href="')
        if "katex.min." in part.split('"')[0]
    )
    assert css != "/static/vendor/katex-0.16.22/katex.min.css", "not the hashed name"
    stylesheet = client.get(css)
    assert stylesheet.status_code == 200
    assert b"KaTeX_AMS-Regular." in b"".join(stylesheet.streaming_content)


@pytest.mark.django_db
def test_favicon_ico_is_served_and_linked() -> None:
    client = Client()
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon["Content-Type"] == "image/vnd.microsoft.icon"
    body = icon.content
    # An ICO directory (reserved 0, type 1) whose first image is a PNG.
    assert body[:4] == b"\x00\x00\x01\x00" and int.from_bytes(body[4:6], "little") >= 1
    first_offset = int.from_bytes(body[18:22], "little")
    assert body[first_offset : first_offset + 8] == b"\x89PNG\r\n\x1a\n"
    assert client.post("/favicon.ico").status_code == 405
    page = client.get("/").content.decode()
    assert 'rel="icon" href="/favicon.ico"' in page and "favicon.svg" in page

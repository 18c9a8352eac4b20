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

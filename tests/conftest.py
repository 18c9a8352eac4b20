"""Fixtures every test may use: three named users, the real course, and a browser."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import translation

from config.catalogs import compile_catalogs
from course.catalogue import catalogue_forget
from course.models import Track, User
from tests.factories import PASSWORD, UserFactory

FIXTURE_COURSE = Path(__file__).resolve().parent / "fixtures" / "course"
# The small course again, with zh-Hans translations beside some of its files (course.translations).
FIXTURE_COURSE_ZH = Path(__file__).resolve().parent / "fixtures" / "course_zh"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


def pytest_configure(config: pytest.Config) -> None:
    """Compile changed translation catalogs first, as `make install` does (pytest run directly)."""
    compile_catalogs()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:  # noqa: ANN001 - pytest-django fixture
    """Hash test passwords cheaply: the default hasher costs ~0.3 s per user."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_catalogue() -> Iterator[None]:
    """Start and end every test without a course outline read in another test's transaction."""
    catalogue_forget()
    yield
    catalogue_forget()


@pytest.fixture(autouse=True)
def full_preview_buckets() -> None:
    """Start every test with full preview buckets: they live in the process, across tests."""
    from grader.preview_limit import buckets

    buckets.clear()


@pytest.fixture(autouse=True)
def default_language() -> Iterator[None]:
    """Start every test in the default language.

    A request in Chinese leaves Chinese active in the thread (LocaleMiddleware activates it and
    nothing resets it), and the next test's English wording would come out in Chinese.
    """
    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def student(db: None) -> User:
    return UserFactory(username="sam", role=User.Role.STUDENT)


@pytest.fixture
def instructor(db: None) -> User:
    return UserFactory(username="ines", role=User.Role.INSTRUCTOR)


@pytest.fixture
def outsider(db: None) -> User:
    return UserFactory(username="otto", role=User.Role.STUDENT)


@pytest.fixture
def course(db: None) -> None:
    """Load the real course from exercises/ (once per database; flushed databases are reloaded)."""
    if not Track.objects.exists():
        call_command("sync_course", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115


@pytest.fixture
def course_dir(tmp_path: Path, settings) -> Path:  # noqa: ANN001 - pytest-django fixture
    """Copy the small fixture course to a temporary folder and point the site at it (structure checks only)."""
    target = tmp_path / "course"
    shutil.copytree(FIXTURE_COURSE, target)
    settings.EXERCISES_DIR = target
    settings.COURSE_SPEC_VALIDATOR = ""
    return target


@pytest.fixture
def course_zh_dir(tmp_path: Path, settings) -> Path:  # noqa: ANN001 - pytest-django fixture
    """Copy the small translated course to a temporary folder and point the site at it."""
    target = tmp_path / "course_zh"
    shutil.copytree(FIXTURE_COURSE_ZH, target)
    settings.EXERCISES_DIR = target
    return target


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Start headless Chromium for one test module (Debian's package, no downloaded browser).

    Module scope closes it right after its tests: a browser left open until the end of the whole
    session outlives hundreds of other tests, and closing one that died meanwhile hangs.
    """
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def screenshot(page: object, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/ and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path

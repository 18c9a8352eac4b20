"""Sign-in back-off and reset limits through HTTP (course/throttle.py): guessing costs the guesser."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from course import throttle
from course.models import AuthThrottle, User
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"


def sign_in(client: Client, username: str, password: str, url: str = LOGIN, **extra: str):
    return client.post(url, {"username": username, "password": password}, **extra)


def expire_blocks() -> None:
    """Let every block run out (moves the stored times back instead of waiting)."""
    past = timezone.now() - timedelta(seconds=1)
    AuthThrottle.objects.filter(blocked_until__isnull=False).update(blocked_until=past)


@pytest.mark.parametrize("url", [LOGIN, ADMIN_LOGIN])
def test_sixty_wrong_passwords_then_the_right_one_is_still_refused(
    client: Client, url: str
) -> None:
    owner = UserFactory(username="victim", is_staff=True)
    answers = [sign_in(client, "victim", f"guess-{i}", url).status_code for i in range(60)]
    # The first failures are answered as wrong passwords, then the name is blocked.
    assert answers[: throttle.SIGNIN_ACCOUNT.free - 1] == [200] * (throttle.SIGNIN_ACCOUNT.free - 1)
    assert set(answers[throttle.SIGNIN_ACCOUNT.free :]) == {429}
    right = sign_in(client, "victim", PASSWORD, url)
    assert right.status_code == 429
    assert int(right["Retry-After"]) > 0
    assert "Too many failed sign-ins" in right.content.decode()
    assert "_auth_user_id" not in client.session
    assert owner.last_login is None


def test_a_blocked_attempt_checks_no_password(
    client: Client, django_assert_max_num_queries
) -> None:
    UserFactory(username="victim")
    for i in range(throttle.SIGNIN_ACCOUNT.free):
        sign_in(client, "victim", f"guess-{i}")
    with django_assert_max_num_queries(3):  # session, throttle look-up; no user row is read
        assert sign_in(client, "victim", PASSWORD).status_code == 429


def test_the_block_ends_and_doubles_with_each_further_failure(client: Client) -> None:
    UserFactory(username="victim")
    for i in range(throttle.SIGNIN_ACCOUNT.free):
        sign_in(client, "victim", f"guess-{i}")
    first = int(sign_in(client, "victim", "again")["Retry-After"])
    expire_blocks()
    second = sign_in(client, "victim", "wrong once more")
    assert second.status_code == 429
    assert int(second["Retry-After"]) > first
    expire_blocks()
    assert sign_in(client, "victim", PASSWORD).status_code == 302  # the owner gets in


def test_success_forgets_the_names_failures(client: Client) -> None:
    UserFactory(username="learner")
    for i in range(throttle.SIGNIN_ACCOUNT.free - 1):
        sign_in(client, "learner", f"typo-{i}")
    assert sign_in(client, "learner", PASSWORD).status_code == 302
    client.logout()
    for i in range(throttle.SIGNIN_ACCOUNT.free - 1):
        assert sign_in(client, "learner", f"typo-{i}").status_code == 200


def test_an_unknown_name_is_answered_exactly_like_a_known_one(client: Client) -> None:
    UserFactory(username="exists")
    known = [sign_in(client, "exists", f"g{i}") for i in range(throttle.SIGNIN_ACCOUNT.free + 1)]
    unknown = [sign_in(client, "ghost", f"g{i}") for i in range(throttle.SIGNIN_ACCOUNT.free + 1)]
    assert [r.status_code for r in known] == [r.status_code for r in unknown]
    assert without_tokens(known[0], "exists") == without_tokens(unknown[0], "ghost")


def without_tokens(response, name: str) -> str:  # noqa: ANN001 - a test client response
    """Return the page with its per-request CSRF tokens and the typed name taken out."""
    body = response.content.decode().replace(name, "NAME")
    return re.sub(r'(csrfmiddlewaretoken" value="|X-CSRFToken": ")[^"]+', r"\1", body)


def test_look_alike_and_case_variants_share_one_counter(client: Client) -> None:
    UserFactory(username="victim")
    variants = ["victim", "VICTIM", "vіctim", "ｖｉｃｔｉｍ", " victim"]
    for i in range(throttle.SIGNIN_ACCOUNT.free):
        sign_in(client, variants[i % len(variants)], f"guess-{i}")
    assert sign_in(client, "victim", PASSWORD).status_code == 429


def test_one_address_guessing_many_names_is_blocked(client: Client) -> None:
    UserFactory(username="target")
    for i in range(throttle.SIGNIN_ADDRESS.free):
        sign_in(client, f"name{i}", "guess")
    assert sign_in(client, "target", PASSWORD).status_code == 429
    # Another address is not affected.
    assert sign_in(client, "target", PASSWORD, REMOTE_ADDR="192.0.2.7").status_code == 302


def test_the_address_behind_trusted_proxies_is_read_from_the_right(rf, settings) -> None:
    settings.PROXY_COUNT = 1
    request = rf.get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9", REMOTE_ADDR="10.0.0.2")
    assert throttle.client_address(request) == "203.0.113.9"
    settings.PROXY_COUNT = 0
    assert throttle.client_address(request) == "10.0.0.2"
    v6 = rf.get("/", REMOTE_ADDR="2001:db8::1234")
    assert throttle.client_address(v6) == "2001:db8::/64"


def test_reset_mail_is_limited_per_address_and_the_page_never_tells(client: Client) -> None:
    UserFactory(username="owner", email="owner@example.com")
    pages = [
        client.post("/accounts/password_reset/", {"email": "owner@example.com"})
        for _ in range(throttle.RESET_EMAIL.free + 3)
    ]
    assert {page.status_code for page in pages} == {302}
    assert {page["Location"] for page in pages} == {"/accounts/password_reset/done/"}
    assert len(mail.outbox) == throttle.RESET_EMAIL.free
    unknown = client.post("/accounts/password_reset/", {"email": "nobody@example.com"})
    assert unknown.status_code == 302 and unknown["Location"] == "/accounts/password_reset/done/"


def test_reset_requests_from_one_address_to_many_inboxes_are_limited(client: Client) -> None:
    for i in range(throttle.RESET_ADDRESS.free + 2):
        UserFactory(username=f"u{i}", email=f"u{i}@example.com")
        client.post("/accounts/password_reset/", {"email": f"u{i}@example.com"})
    assert len(mail.outbox) == throttle.RESET_ADDRESS.free


def test_throttle_rows_store_no_typed_name(client: Client) -> None:
    sign_in(client, "my-secret-password-typed-as-name", "x")
    keys = list(AuthThrottle.objects.values_list("key", flat=True))
    assert keys and all("secret" not in key for key in keys)
    assert not User.objects.filter(username__contains="secret").exists()


def test_staff_signs_in_to_the_admin_and_lands_on_its_index(client: Client) -> None:
    UserFactory(username="boss", is_staff=True, is_superuser=True)
    page = client.get(ADMIN_LOGIN)
    assert page.status_code == 200 and "Django administration" in page.content.decode()
    response = sign_in(client, "boss", PASSWORD, ADMIN_LOGIN)
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200

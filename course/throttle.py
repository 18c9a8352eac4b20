"""Back-off for failed sign-ins and limits on password-reset mail, per account name and per address.

The guarantee: after `SIGNIN_ACCOUNT.free` failed sign-ins for one name within an hour, that name is
refused for a while without its password being checked — 1 minute, doubling with every further
failure up to an hour — whoever asks and from wherever, so guessing costs the guesser time and the
site no hashing. The same holds per client address with a larger allowance (a class behind one
network address mistypes too). Names that do not exist are throttled exactly like names that do, and
the refusal says only how long to wait, so the throttle tells nobody whether an account exists.
Password-reset requests are limited per e-mail address and per client address; past the limit the
page answers as always and no mail is sent, so the reset form neither floods an inbox nor reveals
which addresses have accounts.

Counters live in the database (`AuthThrottle`), keyed by a keyed hash of the name or address, so
every web process shares them and no typed name is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from course.models import AuthThrottle
from course.usernames import username_skeleton

Scope = AuthThrottle.Scope


@dataclass(frozen=True)
class Policy:
    """How many events a window allows before blocking, and how long the blocks last."""

    free: int
    window: timedelta
    first_block: timedelta = timedelta(minutes=1)
    longest_block: timedelta = timedelta(hours=1)

    def block_after(self, count: int) -> timedelta | None:
        """Return how long to block after the `count`-th event of a window, or None."""
        if count < self.free:
            return None
        doubled = self.first_block * (2 ** min(count - self.free, 20))
        return min(doubled, self.longest_block)


SIGNIN_ACCOUNT = Policy(free=5, window=timedelta(hours=1))
SIGNIN_ADDRESS = Policy(free=100, window=timedelta(hours=1))
RESET_EMAIL = Policy(free=3, window=timedelta(hours=1))
RESET_ADDRESS = Policy(free=10, window=timedelta(hours=1))
POLICIES = {
    Scope.SIGNIN_ACCOUNT: SIGNIN_ACCOUNT,
    Scope.SIGNIN_ADDRESS: SIGNIN_ADDRESS,
    Scope.RESET_EMAIL: RESET_EMAIL,
    Scope.RESET_ADDRESS: RESET_ADDRESS,
}


def client_address(request: HttpRequest) -> str:
    """Return the client's address: the network (/64) for IPv6, as one person often holds all of it.

    Behind `PROXY_COUNT` trusted reverse proxies the address is read from X-Forwarded-For, counting
    from the right (the entries further left are whatever the client chose to send).
    """
    address = request.META.get("REMOTE_ADDR", "")
    proxies = settings.PROXY_COUNT
    if proxies:
        forwarded = [
            part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        ]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= proxies:
            address = forwarded[-proxies]
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def _key(scope: str, value: str) -> str:
    secret = settings.SECRET_KEY.encode()
    return hmac.new(secret, f"{scope}\x00{value}".encode(), hashlib.sha256).hexdigest()


def _account(username: str) -> str:
    return username_skeleton(username.strip())


def _wait_seconds(row: AuthThrottle | None, now: datetime) -> int:
    if row is None or row.blocked_until is None or row.blocked_until <= now:
        return 0
    return max(1, math.ceil((row.blocked_until - now).total_seconds()))


def _count(scope: str, value: str, now: datetime) -> AuthThrottle:
    """Count one event for (scope, value) and set the block its policy calls for; return the row."""
    policy = POLICIES[scope]
    key = _key(scope, value)
    with transaction.atomic():
        row, _created = AuthThrottle.objects.select_for_update().get_or_create(
            scope=scope, key=key, defaults={"window_started_at": now}
        )
        blocked = row.blocked_until is not None and row.blocked_until > now
        if not blocked and now - row.window_started_at > policy.window:
            row.count, row.window_started_at = 0, now
        row.count += 1
        block = policy.block_after(row.count)
        row.blocked_until = now + block if block else None
        row.save(update_fields=["count", "window_started_at", "blocked_until"])
    return row


def signin_wait(*, username: str, address: str, now: datetime | None = None) -> int:
    """Return the seconds before this name may try to sign in from this address (0: go ahead)."""
    now = now or timezone.now()
    keys = {
        Scope.SIGNIN_ACCOUNT: _key(Scope.SIGNIN_ACCOUNT, _account(username)),
        Scope.SIGNIN_ADDRESS: _key(Scope.SIGNIN_ADDRESS, address),
    }
    rows = AuthThrottle.objects.filter(
        scope__in=list(keys), key__in=list(keys.values()), blocked_until__gt=now
    )
    return max((_wait_seconds(row, now) for row in rows if keys[row.scope] == row.key), default=0)


def signin_failed(*, username: str, address: str, now: datetime | None = None) -> int:
    """Count a failed sign-in against the name and the address; return the wait it now costs."""
    now = now or timezone.now()
    rows = [
        _count(Scope.SIGNIN_ACCOUNT, _account(username), now),
        _count(Scope.SIGNIN_ADDRESS, address, now),
    ]
    return max(_wait_seconds(row, now) for row in rows)


def signin_succeeded(*, username: str) -> None:
    """Forget the name's failures: its owner got in (the address keeps its count)."""
    AuthThrottle.objects.filter(
        scope=Scope.SIGNIN_ACCOUNT, key=_key(Scope.SIGNIN_ACCOUNT, _account(username))
    ).delete()


def reset_allowed(*, email: str, address: str, now: datetime | None = None) -> bool:
    """Count a password-reset request; say whether its mail may be sent."""
    now = now or timezone.now()
    by_email = _count(Scope.RESET_EMAIL, email.strip().casefold(), now)
    by_address = _count(Scope.RESET_ADDRESS, address, now)
    return all(row.count <= POLICIES[row.scope].free for row in (by_email, by_address))

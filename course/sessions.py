"""Django's database sessions, read with SQL compiled once (course.compiled).

Every request of a signed-in learner reads its session: the same query each time, so its SQL is
not compiled again for each (SESSION_ENGINE names this module). Writing, expiry and cleaning up
are Django's.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.sessions.backends import db
from django.contrib.sessions.models import Session
from django.utils import timezone

from course.compiled import Compiled

_UNEXPIRED = Compiled(
    lambda session_key, now: Session.objects.filter(session_key=session_key, expire_date__gt=now),
    session_key=str,
    now=datetime,
)


class SessionStore(db.SessionStore):
    """Django's database session store, its read compiled once."""

    def _get_session_from_db(self) -> Session | None:
        key = self.session_key  # None unless a well-formed key
        found = _UNEXPIRED(session_key=key, now=timezone.now()) if key else []
        if not found:
            self._session_key = None
            return None
        return found[0]

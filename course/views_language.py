"""The header's language switcher: Django's set_language, and the choice saved for a signed-in user."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Set the language cookie and redirect back (Django's view); remember the choice per user."""
    response = django_set_language(request)
    language = request.POST.get("language", "")
    if language in dict(settings.LANGUAGES) and request.user.is_authenticated:
        if request.user.language != language:
            request.user.language = language
            request.user.save(update_fields=["language"])
    return response

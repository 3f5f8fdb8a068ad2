"""What every page's template receives: the caller, the menu, the CSRF token, the version,
and the language (negotiated from the browser's Accept-Language header)."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from venapath.domain.access import Principal
from venapath.kb.model import KnowledgeBase
from venapath.web.access import navigation
from venapath.web.templating import DEFAULT_LOCALE, negotiate_locale

LANGUAGES_STATE = "web_languages"
"""`app.state` attribute with the languages offered (set by `install_web` from settings)."""

CSRF_STATE = "csrf_token"


def page_context(
    request: Request, principal: Principal | None, knowledge: KnowledgeBase | None, **extra: Any
) -> dict[str, Any]:
    return {
        "locale": negotiate_locale(
            request.headers.get("accept-language"),
            getattr(request.app.state, LANGUAGES_STATE, (DEFAULT_LOCALE,)),
        ),
        "principal": principal,
        "nav": navigation(principal, request.url.path) if principal else [],
        "csrf_token": getattr(request.state, CSRF_STATE, ""),
        "knowledge_version": knowledge.version if knowledge is not None else None,
        **extra,
    }

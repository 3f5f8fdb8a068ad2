"""The page renderer: one Jinja2 environment, autoescaped, with Babel message catalogues.

Every user-facing sentence in a template is wrapped in `_()` / `{% trans %}` so that a
translation is a catalogue under `web/locale/`, never a code change (`make messages`
re-extracts `messages.pot`; a test fails when it is stale).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel.support import NullTranslations, Translations
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from venapath import __version__
from venapath.web.case_form import dom_id

WEB_DIR = Path(__file__).parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
LOCALE_DIR = WEB_DIR / "locale"
DEFAULT_LOCALE = "en"


@cache
def translations(locale: str = DEFAULT_LOCALE) -> NullTranslations:
    """The compiled catalogue for `locale`; the source language (English) needs none."""
    return Translations.load(str(LOCALE_DIR), [locale], domain="messages")


@cache
def environment(locale: str = DEFAULT_LOCALE) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.globals["app_version"] = __version__
    env.filters["moment"] = format_moment
    env.filters["words"] = words
    env.filters["dom_id"] = dom_id
    env.filters["iso"] = iso_utc
    return env


def render(template: str, context: dict[str, Any], locale: str = DEFAULT_LOCALE) -> str:
    return environment(locale).get_template(template).render(context)


def format_moment(value: datetime | str | None) -> str:
    """A date and time as people read it, always in UTC and saying so."""
    if value is None:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%d %b %Y, %H:%M UTC")


def words(identifier: object) -> str:
    """`catheter_directed_thrombolysis` -> "catheter directed thrombolysis"."""
    return str(identifier).replace("_", " ")


def iso_utc(value: datetime) -> str:
    """ISO 8601 with its offset (a stored naive time is UTC), for the page's live clocks."""
    moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return moment.isoformat()

"""The page renderer: one Jinja2 environment, autoescaped, with Babel message catalogues.

Every user-facing sentence in a template is wrapped in `_()` / `{% trans %}` so that a
translation is a catalogue under `web/locale/`, never a code change (`make messages`
re-extracts `messages.pot`; a test fails when it is stale).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

from babel.core import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from venapath import __version__
from venapath.settings import SettingsError
from venapath.web.case_form import dom_id

WEB_DIR = Path(__file__).parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
LOCALE_DIR = WEB_DIR / "locale"
DEFAULT_LOCALE = "en"


def N_(message: str) -> str:  # noqa: N802 (the name gettext's tools look for)
    """Marks a message for extraction where it is defined (`make messages` finds `N_`); the
    template translates it where it is shown, in the reader's language (`_(label)`)."""
    return message


MAX_ACCEPTED_LANGUAGES = 20
"""Entries of an Accept-Language header looked at (a longer header is cut, not refused)."""


def catalogue_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"


@cache
def available_locales() -> tuple[str, ...]:
    """The source language and every language with a catalogue under `web/locale/`."""
    found = sorted(p.parent.parent.name for p in LOCALE_DIR.glob("*/LC_MESSAGES/messages.po"))
    return (DEFAULT_LOCALE, *found)


@cache
def translations(locale: str = DEFAULT_LOCALE) -> NullTranslations:
    """The catalogue for `locale`, compiled in memory from its `.po` file (so no compiled
    `.mo` is kept in the repository to go stale); the source language (English) needs none."""
    path = catalogue_path(locale)
    if locale == DEFAULT_LOCALE or not path.is_file():
        return NullTranslations()
    with path.open("rb") as po_file:
        catalogue = read_po(po_file, locale=locale)
    compiled = BytesIO()
    write_mo(compiled, catalogue)  # fuzzy entries are left out: they are not yet reviewed
    compiled.seek(0)
    return Translations(compiled, domain="messages")


def offered_locales(configured: tuple[str, ...]) -> tuple[str, ...]:
    """The languages a deployment offers: the source language and each configured one.

    A configured language without a catalogue is refused by name, so a typo in
    `VENAPATH_WEB_LANGUAGES` fails at start-up instead of silently serving English.
    """
    unknown = [code for code in configured if code not in available_locales()]
    if unknown:
        raise SettingsError(
            f"VENAPATH_WEB_LANGUAGES: no catalogue for {', '.join(unknown)} "
            f"(available: {', '.join(available_locales())})"
        )
    return (DEFAULT_LOCALE, *(code for code in configured if code != DEFAULT_LOCALE))


def negotiate_locale(
    accept_language: str | None, offered: tuple[str, ...] = (DEFAULT_LOCALE,)
) -> str:
    """The best of the `offered` languages for a browser's Accept-Language header.

    Quality values order the preferences; a missing, malformed or unmatched header gives the
    source language. `es-MX` matches a Spanish catalogue (`es`) when Spanish is offered; a
    catalogue that is not offered (not yet reviewed) is never chosen.
    """
    preferences: list[tuple[float, str]] = []
    for entry in (accept_language or "").split(",")[:MAX_ACCEPTED_LANGUAGES]:
        tag, _, params = entry.strip().partition(";")
        quality = _quality(params)
        if tag and quality > 0:
            preferences.append((quality, tag.strip().replace("_", "-")))
    preferences.sort(key=lambda pair: -pair[0])  # stable: the header's order breaks ties
    wanted = [tag for _, tag in preferences if tag != "*"]
    if not wanted:
        return DEFAULT_LOCALE
    try:
        best = Locale.negotiate(wanted, list(offered), sep="-")
    except (UnknownLocaleError, ValueError):
        return DEFAULT_LOCALE
    return str(best) if best is not None else DEFAULT_LOCALE


def _quality(params: str) -> float:
    name, _, value = params.strip().partition("=")
    if name.strip() != "q":
        return 1.0
    try:
        return min(max(float(value), 0.0), 1.0)
    except ValueError:
        return 0.0


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


def render(template: str, context: dict[str, Any]) -> str:
    """A page in the language the context names (`page_context` negotiates it)."""
    locale = context.get("locale", DEFAULT_LOCALE)
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

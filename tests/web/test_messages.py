"""The message catalogues: every user-facing sentence of the web app goes through gettext, the
committed `messages.pot` is what `make messages` extracts today, and a reader whose browser
asks for Spanish gets the Spanish check-in (the one translated page set)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from jinja2 import Environment
from test_check_in import a_venoplasty, new_link

from paths_support import REPO
from venapath.domain.access import Role
from venapath.services.demo import load_demo
from venapath.services.registry import Registry
from venapath.settings import SettingsError, load_settings
from venapath.web.access import NAV
from venapath.web.templating import (
    DEFAULT_LOCALE,
    LOCALE_DIR,
    TEMPLATES_DIR,
    available_locales,
    catalogue_path,
    negotiate_locale,
    offered_locales,
)

POT = LOCALE_DIR / "messages.pot"
PATIENT_TEMPLATES = ("base.html", "check_in.html", "check_in_done.html", "check_in_closed.html")
"""What a patient with a check-in link sees: these must be wholly translated in every locale."""
NOT_WORDS = {"VenaPath"}
"""Template text that is the same in every language (the product's name)."""
_ATTRIBUTE_TEXT = re.compile(r'\b(?:aria-label|placeholder|title|alt)="([^"]*)"')


def extract(tmp_path: Path, *sources: Path) -> Any:
    """Run the extraction `make messages` runs (same babel.cfg) into a temporary file."""
    out = tmp_path / "messages.pot"
    CommandLineInterface().run(
        ["pybabel", "-q", "extract", "--no-location", "--sort-output"]
        + ["-F", str(REPO / "babel.cfg"), "-o", str(out)]
        + [str(s) for s in sources]
    )
    with out.open("rb") as pot:
        return read_po(pot)


def message_ids(catalogue: Any) -> set[str]:
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalogue if m.id}


def committed(path: Path, locale: str | None = None) -> Any:
    with path.open("rb") as po:
        return read_po(po, locale=locale)


# ---------------------------------------------------------------- the catalogue is current


def test_the_committed_catalogue_is_what_make_messages_extracts(tmp_path: Path) -> None:
    fresh = message_ids(extract(tmp_path, REPO / "src" / "venapath" / "web"))
    stored = message_ids(committed(POT))
    assert fresh - stored == set(), "new messages: run `make messages` and commit the .pot"
    assert stored - fresh == set(), "messages gone from the code: run `make messages`"


def test_the_extraction_finds_templates_and_python(tmp_path: Path) -> None:
    """The mapping reaches both kinds of file (a near-empty .pot was the old failure)."""
    ids = message_ids(extract(tmp_path, REPO / "src" / "venapath" / "web"))
    assert "How are you since your procedure?" in ids  # a template
    assert "please write a number of days, like 3" in ids  # a page module
    assert len(ids) > 200


def test_every_menu_label_is_in_the_catalogue() -> None:
    stored = message_ids(committed(POT))
    assert {label for _, label, _ in NAV} <= stored


def test_the_menu_is_translated_where_it_is_shown() -> None:
    source = (TEMPLATES_DIR / "base.html").read_text(encoding="utf-8")
    assert "{{ _(link.label) }}" in source
    assert "{{ link.label }}" not in source


def untranslated_text(source: str) -> list[str]:
    """Words in a template that reach the reader without gettext: the text between tags
    and human-read attributes. Jinja's own lexer tells text from expressions; each
    expression or statement becomes a marker, so a tag with one inside is still a tag."""
    pieces = [
        value if kind == "data" else "\x00"
        for _, kind, value in Environment(extensions=["jinja2.ext.i18n"]).lex(source)
    ]
    markup = re.sub(r"<script.*?</script>", " ", "".join(pieces), flags=re.S)
    attributes = [a.replace("\x00", " ").strip() for a in _ATTRIBUTE_TEXT.findall(markup)]
    found = [a for a in attributes if re.search("[A-Za-z]", a) and a not in NOT_WORDS]
    text = re.sub(r"<[^>]*>", " ", markup)
    found += [w for w in re.findall(r"[A-Za-z][A-Za-z' -]*[A-Za-z]", text) if w not in NOT_WORDS]
    return found


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES_DIR.glob("*.html")))
def test_no_template_has_an_untranslated_literal(template: str) -> None:
    source = (TEMPLATES_DIR / template).read_text(encoding="utf-8")
    assert untranslated_text(source) == []


def test_the_literal_check_catches_a_bare_menu_word() -> None:
    """The check above can fail: a nav written by hand, or an English aria-label, is caught."""
    assert untranslated_text('<nav><a href="/worklist">Worklist</a></nav>') == ["Worklist"]
    assert untranslated_text('<nav aria-label="Main">{{ _("x") }}</nav>') == ["Main"]
    assert untranslated_text('<a title="Open {{ n }}">{{ _("x") }}</a>') == ["Open"]
    assert untranslated_text('<a href="/">{{ _("Worklist") }}</a> · VenaPath') == []


# ---------------------------------------------------------------- the Spanish catalogue


def test_spanish_is_available_and_in_step_with_the_template() -> None:
    assert available_locales() == (DEFAULT_LOCALE, "es")
    spanish = message_ids(committed(catalogue_path("es"), "es"))
    assert spanish == message_ids(committed(POT)), "run `make messages` to update es"


def test_everything_a_patient_sees_is_translated_into_spanish(tmp_path: Path) -> None:
    sources = [TEMPLATES_DIR / name for name in PATIENT_TEMPLATES]
    sources.append(REPO / "src" / "venapath" / "web" / "pages" / "check_in.py")
    needed = message_ids(extract(tmp_path, *sources))
    spanish = committed(catalogue_path("es"), "es")
    untranslated = {m.id for m in spanish if m.id in needed and (not m.string or m.fuzzy)}
    assert untranslated == set()


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        (None, "en"),
        ("", "en"),
        ("es", "es"),
        ("es-MX,es;q=0.9,en;q=0.8", "es"),
        ("en-GB,en;q=0.9,es;q=0.8", "en"),
        ("fr-FR,fr;q=0.9", "en"),  # no French catalogue: the source language
        ("fr;q=0.9,es;q=0.5", "es"),
        ("es;q=0,en", "en"),  # q=0 means "not this one"
        ("*", "en"),
        ("not a tag;;q=x,,", "en"),
    ],
)
def test_the_language_is_negotiated_from_accept_language(header: str | None, locale: str) -> None:
    assert negotiate_locale(header, offered_locales(("es",))) == locale


def test_a_catalogue_is_offered_only_when_the_deployment_lists_it() -> None:
    """Patients read safety advice in these catalogues: a language is served only once a
    deployment lists it (after a translator's review), never because a file exists."""
    assert load_settings(env="development").web_languages == ("en",)
    assert negotiate_locale("es-MX,es;q=0.9") == "en"
    assert negotiate_locale("es-MX,es;q=0.9", offered_locales(())) == "en"
    assert negotiate_locale("es-MX,es;q=0.9", offered_locales(("es",))) == "es"


def test_a_configured_language_without_a_catalogue_is_refused_by_name() -> None:
    with pytest.raises(SettingsError, match=r"VENAPATH_WEB_LANGUAGES: no catalogue for xx"):
        offered_locales(("xx",))


# ---------------------------------------------------------------- switching, over HTTP


@pytest.fixture(scope="module", autouse=True)
def demo(module_registry: Registry) -> None:
    load_demo(module_registry, follow_up_cohort=False)  # no survival cohort needed


def test_a_patient_whose_browser_asks_for_spanish_gets_the_check_in_in_spanish(
    web: TestClient, caller: Any, module_registry: Registry
) -> None:
    _, procedure_id = a_venoplasty(module_registry)
    caller.become(Role.COORDINATOR)
    link = new_link(web, procedure_id)
    caller.become(None)
    spanish = {"Accept-Language": "es-US,es;q=0.9,en;q=0.5"}

    form = web.get(link, headers=spanish)
    assert form.status_code == 200
    assert '<html lang="es">' in form.text
    assert "¿Cómo se siente desde su procedimiento?" in form.text
    assert "How are you since your procedure?" not in form.text

    wrong = web.post(link, data={"reverted_for_days": "a week"}, headers=spanish)
    assert wrong.status_code == 422
    assert "escriba un número de días" in wrong.text

    done = web.post(link, data={"symptoms_back_within_hours": "true"}, headers=spanish)
    assert done.status_code == 200
    assert "Llame hoy a su equipo médico" in done.text or "Llame a emergencias ahora" in done.text

    spent = web.get(link, headers=spanish)
    assert spent.status_code == 410
    assert "Este enlace de seguimiento ya se usó" in spent.text


def test_the_same_link_in_english_without_a_language_header(
    web: TestClient, caller: Any, module_registry: Registry
) -> None:
    _, procedure_id = a_venoplasty(module_registry)
    caller.become(Role.COORDINATOR)
    link = new_link(web, procedure_id)
    caller.become(None)
    form = web.get(link)
    assert '<html lang="en">' in form.text
    assert "How are you since your procedure?" in form.text


def test_the_menu_follows_the_language(web: TestClient, caller: Any) -> None:
    caller.become(Role.COORDINATOR)
    english = web.get("/worklist").text
    spanish = web.get("/worklist", headers={"Accept-Language": "es"}).text
    assert ">Worklist</a>" in english
    assert ">Patients</a>" in english
    assert ">Lista de trabajo</a>" in spanish
    assert ">Pacientes</a>" in spanish
    assert ">Worklist</a>" not in spanish

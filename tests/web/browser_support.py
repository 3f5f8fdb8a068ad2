"""The service on a loopback port with demo data and one account per role, and Debian's
Chromium driven by Playwright (never a downloaded browser), for the browser tests.

`VENAPATH_CHROMIUM` names another Chromium binary; without one the browser tests skip and
say why (`.ci/run` installs Debian's `chromium`, so CI always runs them).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from db_support import fresh_database
from fhir_fixtures import dvt_record, medication_request, searchset
from identity_support import PASSWORD
from server_support import free_port
from smart_ehr import CLIENT_ID, LoopbackEhr
from venapath.cdshooks.feedback import DatabaseFeedbackStore
from venapath.cdshooks.prefetch import prefetch_answers
from venapath.identity.accounts import ACCOUNT_ROLES, AccountService
from venapath.kb.model import KnowledgeBase
from venapath.service import build_service
from venapath.services.demo import load_demo
from venapath.services.registry import Registry
from venapath.settings import SmartSettings, load_settings

CHROMIUM = os.environ.get("VENAPATH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (install Debian's chromium; .ci/run does)"
    return None


@dataclass(frozen=True)
class Served:
    base: str
    registry: Registry
    ehr: LoopbackEhr


@contextmanager
def served_service(kb: KnowledgeBase, tmp: Path, ehr: LoopbackEhr) -> Iterator[Served]:
    """The whole service (API and pages) on 127.0.0.1, in a thread, on a fresh SQLite file."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    ehr.redirect_uris.add(f"{base}/smart/callback")
    with fresh_database("sqlite", tmp) as database:
        registry = Registry(database, kb)
        load_demo(registry)
        settings = load_settings(env="development", host="127.0.0.1", port=port)
        accounts = AccountService(database, settings)
        for role in ACCOUNT_ROLES:
            accounts.add(f"{role.value}-1", f"Test {role.value}", role.value, PASSWORD)
        smart = SmartSettings(client_id=CLIENT_ID, issuers=(ehr.fhir_base,))
        app = build_service(
            settings,
            kb=kb,
            feedback=DatabaseFeedbackStore(database),
            registry=registry,
            smart=smart,
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            _card_feedback(base)
            yield Served(base, registry, ehr)
        finally:
            server.should_exit = True
            thread.join(timeout=10)


def _card_feedback(base: str) -> None:
    """An order-sign call and an override of its critical card, over HTTP, so that the card
    feedback page has a rule to show."""
    services = httpx.get(f"{base}/cds-services").json()["services"]
    templates = dict(services[0]["prefetch"])
    order = medication_request("draft-1", "8410", "alteplase", status="draft")
    body = {
        "hook": "order-sign",
        "hookInstance": "browser-feedback",
        "context": {
            "userId": "Practitioner/example",
            "patientId": "p1",
            "draftOrders": searchset(order),
        },
        "prefetch": prefetch_answers(dvt_record(platelets=60), templates),
    }
    path = f"{base}/cds-services/venapath-order-sign"
    cards = httpx.post(path, json=body).json()["cards"]
    critical = next(card for card in cards if card["indicator"] == "critical")
    item = {
        "card": critical["uuid"],
        "outcome": "overridden",
        "overrideReason": {"reason": critical["overrideReasons"][0]},
        "outcomeTimestamp": "2026-12-01T09:00:00Z",
    }
    httpx.post(f"{path}/feedback", json={"feedback": [item]}).raise_for_status()


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/auth/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")

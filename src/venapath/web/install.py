"""Mount the web app on the service: its pages, its static files and its error pages.

The HTTP service (`venapath.api`) and the web app are layers beside each other; the
command that serves them (and the tests) composes both with `install_web(app, kb)`.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from venapath.identity.accounts import AccountService
from venapath.identity.events import SecurityEvents
from venapath.kb.model import KnowledgeBase
from venapath.services.registry import Registry
from venapath.settings import Settings
from venapath.web.context import LANGUAGES_STATE
from venapath.web.errors import error_page
from venapath.web.pages.accounts import build_accounts_router
from venapath.web.pages.check_in import build_check_in_router
from venapath.web.pages.check_in_review import build_check_in_review_router
from venapath.web.pages.dashboards import build_dashboard_router
from venapath.web.pages.evaluate import build_evaluate_router
from venapath.web.pages.feedback import build_feedback_router
from venapath.web.pages.home import build_home_router
from venapath.web.pages.knowledge import build_knowledge_router
from venapath.web.pages.patients import build_patient_router
from venapath.web.pages.procedures import build_procedure_router
from venapath.web.pages.screening import build_screening_router
from venapath.web.pages.worklist import build_worklist_router
from venapath.web.templating import STATIC_DIR, offered_locales

HTML_ERROR_HOOK = "html_error_page"
"""`app.state` attribute the API's error handlers call for requests that are pages."""


def install_web(app: FastAPI) -> None:
    """Add the pages to an app built by `venapath.api.app.create_app` (same knowledge base,
    same registry door)."""
    kb: KnowledgeBase = app.state.knowledge
    registry: Registry = app.state.registry
    app.include_router(build_home_router(kb))
    app.include_router(build_evaluate_router(kb, registry))
    app.include_router(build_knowledge_router(kb))
    app.include_router(build_worklist_router(kb, registry))
    app.include_router(build_patient_router(kb, registry))
    app.include_router(build_check_in_router(kb, registry))
    app.include_router(build_check_in_review_router(kb, registry))
    app.include_router(build_procedure_router(kb, registry))
    app.include_router(build_dashboard_router(kb, registry))
    app.include_router(build_feedback_router(kb, registry))
    accounts: AccountService = app.state.accounts
    security: SecurityEvents = app.state.security_events
    app.include_router(build_accounts_router(kb, accounts, registry.audit, security))
    settings: Settings = app.state.settings
    setattr(app.state, LANGUAGES_STATE, offered_locales(settings.web_languages))
    app.include_router(build_screening_router(kb, registry.audit, settings.screen_results_dir))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    setattr(app.state, HTML_ERROR_HOOK, error_page)

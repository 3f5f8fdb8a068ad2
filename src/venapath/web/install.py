"""Mount the web app on the service: its pages, its static files and its error pages.

The HTTP service (`venapath.api`) and the web app are layers beside each other; the
command that serves them (and the tests) composes both with `install_web(app, kb)`.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from venapath.kb.model import KnowledgeBase
from venapath.web.errors import error_page
from venapath.web.pages.evaluate import build_evaluate_router
from venapath.web.pages.home import build_home_router
from venapath.web.pages.knowledge import build_knowledge_router
from venapath.web.templating import STATIC_DIR

HTML_ERROR_HOOK = "html_error_page"
"""`app.state` attribute the API's error handlers call for requests that are pages."""


def install_web(app: FastAPI, kb: KnowledgeBase) -> None:
    app.include_router(build_home_router(kb))
    app.include_router(build_evaluate_router(kb))
    app.include_router(build_knowledge_router(kb))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    setattr(app.state, HTML_ERROR_HOOK, error_page)

"""The whole service: the HTTP API (`venapath.api`) with the web app (`venapath.web`) on it.

The two are layers beside each other; this module, above both, is where they meet. The
command line serves `build_service`; multi-worker uvicorn calls `from_environment` in each
worker (a factory, so nothing is built at import time).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from venapath.api.app import create_app
from venapath.api.logs import configure_logging
from venapath.settings import Settings, load_settings
from venapath.web.install import install_web


def build_service(settings: Settings, **overrides: Any) -> FastAPI:
    """The API and the web pages, sharing one knowledge base, registry and policy."""
    app = create_app(settings, **overrides)
    install_web(app)
    return app


def from_environment() -> FastAPI:
    """uvicorn factory for worker processes: settings from the environment."""
    settings = load_settings()
    configure_logging(settings.log_level)
    return build_service(settings)

"""Import target for multi-worker uvicorn: each worker builds the app from the environment."""

from __future__ import annotations

from venapath.api.app import create_app
from venapath.api.logs import configure_logging
from venapath.settings import load_settings

_settings = load_settings()
configure_logging(_settings.log_level)
app = create_app(_settings)

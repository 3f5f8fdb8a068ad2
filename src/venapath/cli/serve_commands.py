"""`venapath serve`: the REST API and CDS Hooks service under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from venapath.api.logs import configure_logging
from venapath.api.smart_routes import signing_key
from venapath.persistence.database import Database
from venapath.persistence.migrate import ensure_current
from venapath.service import build_service
from venapath.settings import database_url, load_settings, load_smart_settings

errors = Console(stderr=True, soft_wrap=True)


def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (VENAPATH_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (VENAPATH_PORT).")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
) -> None:
    """Serve the web app (/), the REST API (/api/v1), CDS Hooks (/cds-services), /health, /ready."""
    overrides: dict[str, object] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    settings = load_settings(**overrides)
    signing_key(load_smart_settings())  # a bad VENAPATH_SMART_* stops here, by name
    configure_logging(settings.log_level)
    database = Database(database_url(settings))
    try:
        ensure_current(database)
    finally:
        database.dispose()
    if workers > 1:
        uvicorn.run(
            "venapath.service:from_environment",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=workers,
            log_config=None,
            access_log=False,
            server_header=False,
        )
        return
    uvicorn.run(
        build_service(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        server_header=False,
    )

"""`venapath serve`: the REST API and CDS Hooks service under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from venapath.api.app import create_app
from venapath.api.logs import configure_logging
from venapath.persistence.database import Database
from venapath.persistence.migrate import ensure_current
from venapath.settings import database_url, load_settings

errors = Console(stderr=True, soft_wrap=True)


def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (VENAPATH_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (VENAPATH_PORT).")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
) -> None:
    """Serve the REST API (/api/v1), CDS Hooks (/cds-services) and /health, /ready."""
    overrides: dict[str, object] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    settings = load_settings(**overrides)
    configure_logging(settings.log_level)
    database = Database(database_url(settings))
    try:
        ensure_current(database)
    finally:
        database.dispose()
    if workers > 1:
        uvicorn.run(
            "venapath.api.server:app",
            host=settings.host,
            port=settings.port,
            workers=workers,
            log_config=None,
            access_log=False,
            server_header=False,
        )
        return
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        server_header=False,
    )

"""`venapath serve` as the crash and restart tests need it: the same app, settings, schema
check and uvicorn options, plus the test-only principal middleware (tests/principal_support.py)
so the registry routes have a verified caller until the identity layer issues test tokens.

    python tests/serve_for_tests.py --host 127.0.0.1 --port 8123
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from principal_support import with_test_principals
from venapath.api.app import create_app
from venapath.api.logs import configure_logging
from venapath.persistence.database import Database
from venapath.persistence.migrate import ensure_current
from venapath.settings import database_url, load_settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    arguments = parser.parse_args()
    settings = load_settings(host=arguments.host, port=arguments.port)
    configure_logging(settings.log_level)
    database = Database(database_url(settings))
    try:
        ensure_current(database)
    finally:
        database.dispose()
    uvicorn.run(
        with_test_principals(create_app(settings)),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()

"""Running the real `venapath serve` in a subprocess, for end-to-end and crash tests."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

VENAPATH = Path(sys.executable).parent / "venapath"
"""`venapath serve` plus the test-only principal middleware: for tests that call the registry."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited: {log.read_text()}")
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    pytest.fail(f"server did not become ready: {log.read_text()}")


def identity_environment() -> dict[str, str]:
    """Environment for a served process: trust the test token issuer, answer for 127.0.0.1."""
    import json

    from identity_support import api_issuers

    return {
        "VENAPATH_API_ISSUERS": json.dumps(api_issuers()),
        "VENAPATH_ALLOWED_HOSTS": json.dumps(["127.0.0.1"]),
    }

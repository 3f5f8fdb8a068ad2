"""The Bulk Data client against a Bulk Data server written for these tests, on loopback.

The server is deliberately difficult: it answers 202 while "exporting", then 429, wants a
fresh token for the file downloads (the first one has "expired"), and breaks the first
download of a file off in the middle.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from venapath.screen.bulk import open_export
from venapath.screen.bulk_client import (
    STATE_NAME,
    BulkDataError,
    BulkOptions,
    StaticToken,
    download_export,
)

PATIENTS = [{"resourceType": "Patient", "id": f"p{n}", "gender": "female"} for n in range(50)]
OBSERVATIONS = [
    {"resourceType": "Observation", "id": f"o{n}", "subject": {"reference": f"Patient/p{n}"}}
    for n in range(400)
]


def _ndjson(resources: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in resources)


class _Server:
    """State shared by the handler threads: what was asked, and how to misbehave."""

    def __init__(self) -> None:
        self.files = {"Patient.ndjson": _ndjson(PATIENTS), "obs-1": _ndjson(OBSERVATIONS)}
        self.kickoffs: list[dict[str, list[str]]] = []
        self.polls = 0
        self.ready_after = 2  # 202 twice, then 429 once, then the manifest
        self.broken_once: set[str] = {"obs-1"}
        self.ranges: list[str] = []
        self.count_override: int | None = None
        self.file_token = "fresh"
        self.export_token = "first"
        self.port = 0

    def manifest(self) -> dict[str, Any]:
        base = f"http://127.0.0.1:{self.port}"
        return {
            "transactionTime": "2026-01-01T00:00:00Z",
            "request": f"{base}/fhir/Group/g1/$export",
            "requiresAccessToken": True,
            "output": [
                {"type": "Patient", "url": f"{base}/files/Patient.ndjson", "count": 50},
                {
                    "type": "Observation",
                    "url": f"{base}/files/obs-1",
                    "count": self.count_override or 400,
                },
            ],
            "error": [],
        }


def _handler(server: _Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            return

        def _send(self, status: int, body: bytes = b"", **headers: str) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _token(self) -> str:
            return self.headers.get("Authorization", "").removeprefix("Bearer ")

        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path.endswith("/$export"):
                if self._token() not in (server.export_token, server.file_token):
                    return self._send(401)
                server.kickoffs.append(parse_qs(url.query))
                return self._send(202, Content_Location="/status/1")
            if url.path == "/status/1":
                server.polls += 1
                if server.polls <= server.ready_after:
                    return self._send(202, Retry_After="3", X_Progress="exporting")
                if server.polls == server.ready_after + 1:
                    return self._send(429, Retry_After="7")
                body = json.dumps(server.manifest()).encode()
                return self._send(200, body, Content_Type="application/json")
            if url.path.startswith("/files/"):
                if self._token() != server.file_token:
                    return self._send(401)  # the first token has expired by now
                return self._file(url.path.removeprefix("/files/"))
            return self._send(404)

        def _file(self, name: str) -> None:
            data = server.files[name]
            start = 0
            wanted = self.headers.get("Range")
            if wanted:
                server.ranges.append(wanted)
                start = int(wanted.removeprefix("bytes=").split("-")[0])
            body = data[start:]
            self.send_response(206 if start else 200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if name in server.broken_once:
                server.broken_once.discard(name)
                self.wfile.write(body[: len(body) // 3])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

    return Handler


@pytest.fixture
def server() -> Iterator[_Server]:
    state = _Server()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


class _ExpiringToken:
    """A provider whose first token expires: refresh() gives the fresh one."""

    def __init__(self) -> None:
        self.current = "first"
        self.refreshes = 0

    def token(self) -> str:
        return self.current

    def refresh(self) -> str:
        self.refreshes += 1
        self.current = "fresh"
        return self.current


def _options(waits: list[float], **extra: Any) -> BulkOptions:
    return BulkOptions(types=("Patient", "Observation"), sleep=waits.append, **extra)


def _kickoff(server: _Server) -> str:
    return f"http://127.0.0.1:{server.port}/fhir/Group/g1/$export"


def test_an_export_is_downloaded_through_every_difficulty(server: _Server, tmp_path: Path) -> None:
    waits: list[float] = []
    tokens = _ExpiringToken()
    since = datetime(2025, 6, 1, tzinfo=UTC)
    folder = download_export(
        _kickoff(server), tmp_path / "dl", tokens, _options(waits, since=since)
    )
    assert server.kickoffs == [
        {"_type": ["Patient,Observation"], "_since": ["2025-06-01T00:00:00+00:00"]}
    ]
    assert waits[:3] == [3.0, 3.0, 7.0]  # Retry-After of the two 202s and of the 429
    assert tokens.refreshes == 1
    assert server.ranges
    assert server.ranges[0].startswith("bytes=")
    export = open_export(folder)
    (observations,) = export.files_of("Observation")
    assert observations.read_bytes() == server.files["obs-1"]
    assert export.files_of("Patient")[0].read_bytes() == server.files["Patient.ndjson"]
    assert export.manifest is not None
    assert export.manifest["transactionTime"] == "2026-01-01T00:00:00Z"
    assert "fresh" not in (folder / STATE_NAME).read_text()


def test_a_second_run_resumes_without_a_new_export(server: _Server, tmp_path: Path) -> None:
    tokens = _ExpiringToken()
    download_export(_kickoff(server), tmp_path / "dl", tokens, _options([]))
    (tmp_path / "dl" / "Patient.000.ndjson").unlink()
    polls = server.polls
    download_export(_kickoff(server), tmp_path / "dl", tokens, _options([]))
    assert len(server.kickoffs) == 1
    assert server.polls == polls
    assert (tmp_path / "dl" / "Patient.000.ndjson").read_bytes() == server.files["Patient.ndjson"]


def test_waiting_is_bounded(server: _Server, tmp_path: Path) -> None:
    server.ready_after = 1000
    with pytest.raises(BulkDataError, match="not ready within 10 s"):
        download_export(
            _kickoff(server), tmp_path / "dl", _ExpiringToken(), _options([], max_wait=10)
        )


def test_a_refused_static_token_is_an_error_that_hides_the_token(
    server: _Server, tmp_path: Path
) -> None:
    with pytest.raises(BulkDataError, match="cannot be renewed") as raised:
        download_export(_kickoff(server), tmp_path / "dl", StaticToken("s3cret"), _options([]))
    assert "s3cret" not in str(raised.value)


def test_a_file_shorter_than_its_announced_count_is_refused(
    server: _Server, tmp_path: Path
) -> None:
    server.count_override = 401
    with pytest.raises(BulkDataError, match="400 lines where the manifest announces 401"):
        download_export(_kickoff(server), tmp_path / "dl", _ExpiringToken(), _options([]))
    assert not list((tmp_path / "dl").glob("Observation*"))


@pytest.mark.parametrize(
    "url", ["ftp://ehr/fhir/$export", "https://ehr.example/fhir/Patient", "not a url"]
)
def test_a_url_that_is_not_an_export_is_refused(url: str, tmp_path: Path) -> None:
    with pytest.raises(BulkDataError, match="--from"):
        download_export(url, tmp_path / "dl", StaticToken(None), _options([]))


def test_the_screen_command_reads_straight_from_the_ehr(server: _Server, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from venapath.cli.main import app

    out = tmp_path / "results"
    command = ["screen", "--from", _kickoff(server), "--out", str(out), "--quiet"]
    result = CliRunner().invoke(
        app, [*command, "--format", "json"], env={"VENAPATH_BULK_TOKEN": "fresh"}
    )
    assert result.exit_code == 0, result.output
    assert json.loads((out / "summary.json").read_text())["patients"] == 50
    assert (tmp_path / "results.download" / "manifest.json").is_file()


def test_the_screen_command_names_a_refused_token(server: _Server, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from venapath.cli.main import app

    command = ["screen", "--from", _kickoff(server), "--out", str(tmp_path / "r"), "--quiet"]
    result = CliRunner().invoke(app, command, env={"VENAPATH_BULK_TOKEN": "wrong"})
    assert result.exit_code == 2
    assert "401" in result.output
    assert "wrong" not in result.output

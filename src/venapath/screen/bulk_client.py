"""FHIR Bulk Data client: `$export` from an EHR into a folder the screen reads.

The flow is the FHIR Bulk Data Access IG (v2): kick-off (`GET .../$export` with
`Prefer: respond-async`, answered 202 with a status URL in `Content-Location`), polling of
the status URL until it answers 200 with the manifest, then a download of every NDJSON file.

Why each precaution:
- `_type` is limited to the resource types the knowledge base's views read, so the EHR does
  not export (and we do not download) what the screen would ignore; `_since` asks only for
  what changed, for an incremental run.
- Polling honours `Retry-After` (seconds or an HTTP date) but never waits longer than
  `max_wait` in total: a stuck export fails with a message instead of hanging a night job.
- 429 (too many requests) is waited out the same way; 401 asks the token provider for a new
  access token once and retries (tokens expire during long exports).
- Each file is written to `NAME.part`, resumed with a `Range` request after an error in the
  middle, retried with back-off, and checked before it is renamed into place: the line count
  against the manifest's `count`, and a `Digest`/`Content-Digest` SHA-256 when the server
  sends one. `bulk-state.json` records the status URL and the files done, so a second run
  with the same folder resumes instead of starting the export again.

Authentication is a `TokenProvider`: a static bearer token today; SMART Backend Services
(a signed client assertion exchanged for an access token) plugs in behind the same two
methods. No token is ever written to the state file or to a message.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Protocol
from urllib.parse import urlencode, urlparse

import httpx

from venapath.errors import VenaPathError
from venapath.screen.bulk import MANIFEST_NAME

__all__ = [
    "STATE_NAME",
    "BulkDataError",
    "BulkOptions",
    "StaticToken",
    "TokenProvider",
    "download_export",
]

STATE_NAME: Final = "bulk-state.json"
_FHIR_JSON: Final = "application/fhir+json"
_NDJSON: Final = "application/fhir+ndjson"

Progress = Callable[[str, int, int], None]
"""Called with (what is happening, bytes done, bytes expected or 0 when unknown)."""


class BulkDataError(VenaPathError):
    """The EHR's Bulk Data endpoint refused or failed; the message says which step and why
    (exit 2). The download folder keeps what was done: the same command again resumes."""


class TokenProvider(Protocol):
    """Where access tokens come from. `token()` is the current one (None: no authentication);
    `refresh()` is called after a 401 and returns a new one (None when it cannot)."""

    def token(self) -> str | None: ...

    def refresh(self) -> str | None: ...


@dataclass
class StaticToken:
    """A bearer token given on the command line; it cannot be refreshed."""

    value: str | None

    def token(self) -> str | None:
        return self.value

    def refresh(self) -> str | None:
        return None


@dataclass(frozen=True)
class BulkOptions:
    types: Sequence[str]
    since: datetime | None = None
    max_wait: float = 3600.0
    """Longest total wait for the export to be ready (polling and 429s), in seconds."""
    max_retry_after: float = 120.0
    """Longest single wait a server's Retry-After may ask for."""
    retries: int = 5
    """Attempts per file download after an error (with Range resume)."""
    timeout: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)


def download_export(
    kickoff_url: str,
    folder: Path,
    tokens: TokenProvider,
    options: BulkOptions,
    *,
    progress: Progress | None = None,
    client: httpx.Client | None = None,
) -> Path:
    """Run (or resume) an export into `folder`; return the folder once every file is in.

    Writes the NDJSON files and a `manifest.json` naming them, which `venapath screen` reads."""
    _check_url(kickoff_url)
    folder.mkdir(parents=True, exist_ok=True)
    report = progress or (lambda _what, _done, _total: None)
    session = _Session(client or httpx.Client(timeout=options.timeout), tokens, options)
    try:
        state = _State.load(folder, kickoff_url)
        if state.manifest is None:
            if state.status_url is None:
                state.status_url = _kick_off(session, kickoff_url, options)
                state.save()
            state.manifest = _poll(session, state.status_url, options, report)
            state.save()
        _download_all(session, state, folder, report)
        _write_manifest(folder, state)
    finally:
        if client is None:
            session.client.close()
    return folder


# -- HTTP with tokens, 401 refresh and 429 waits ----------------------------------------------
class _Session:
    def __init__(self, client: httpx.Client, tokens: TokenProvider, options: BulkOptions) -> None:
        self.client = client
        self.tokens = tokens
        self.options = options
        self.access = tokens.token()
        self.waited = 0.0

    def headers(self, accept: str, *, authorise: bool = True) -> dict[str, str]:
        headers = {"Accept": accept}
        if authorise and self.access:
            headers["Authorization"] = f"Bearer {self.access}"
        return headers

    def wait(self, seconds: float, step: str) -> None:
        if self.waited + seconds > self.options.max_wait:
            raise BulkDataError(
                f"{step}: the export was not ready within {self.options.max_wait:.0f} s "
                "(raise the bound with --max-wait)"
            )
        self.waited += seconds
        self.options.sleep(seconds)

    def send(
        self,
        method: str,
        url: str,
        step: str,
        headers: dict[str, str],
        *,
        stream: bool = False,
    ) -> httpx.Response:
        """One request; a 401 refreshes the token once, a 429 is waited out (bounded)."""
        refreshed = False
        while True:
            request = self.client.build_request(method, url, headers=headers)
            try:
                response = self.client.send(request, stream=stream)
            except httpx.HTTPError as error:
                raise BulkDataError(f"{step}: {url} could not be reached ({error})") from None
            if response.status_code == 401 and not refreshed and "Authorization" in headers:
                response.close()
                self.access = self.tokens.refresh()
                if self.access is None:
                    raise BulkDataError(
                        f"{step}: the access token was refused (401) and cannot be renewed"
                    )
                headers = {**headers, "Authorization": f"Bearer {self.access}"}
                refreshed = True
                continue
            if response.status_code == 429:
                response.close()
                self.wait(self._retry_after(response, 5.0), f"{step} (429 Too Many Requests)")
                continue
            if response.status_code == 401:
                response.close()
                raise BulkDataError(f"{step}: the access token was refused (401)")
            return response

    def _retry_after(self, response: httpx.Response, default: float) -> float:
        return _retry_after(response, default, self.options.max_retry_after)


def _retry_after(response: httpx.Response, default: float, ceiling: float) -> float:
    """Seconds the server asks us to wait (`Retry-After`: seconds or an HTTP date)."""
    value = response.headers.get("Retry-After")
    seconds = default
    if value:
        if value.strip().isdigit():
            seconds = float(value.strip())
        else:
            try:
                moment = email.utils.parsedate_to_datetime(value)
                seconds = (moment - datetime.now(UTC)).total_seconds()
            except (TypeError, ValueError):
                seconds = default
    return min(max(seconds, 0.5), ceiling)


def _check_url(url: str) -> None:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise BulkDataError(f"--from: {url!r} is not an http(s) URL of a $export operation")
    if not parsed.path.rstrip("/").endswith("$export"):
        raise BulkDataError(
            f"--from: {url!r} does not end in $export (for example "
            "https://ehr.example/fhir/Group/ID/$export)"
        )


def _outcome(response: httpx.Response) -> str:
    """A server's OperationOutcome text (or status line), for an error message."""
    try:
        body = response.json()
        issues = body.get("issue", []) if isinstance(body, dict) else []
        texts = [i.get("diagnostics") or i.get("details", {}).get("text") for i in issues]
        shown = "; ".join(t for t in texts if isinstance(t, str))
    except (ValueError, AttributeError):
        shown = ""
    return f"HTTP {response.status_code}" + (f": {shown[:300]}" if shown else "")


# -- kick-off and polling ------------------------------------------------------------------------
def _kick_off(session: _Session, url: str, options: BulkOptions) -> str:
    query: dict[str, str] = {"_type": ",".join(options.types)}
    if options.since is not None:
        query["_since"] = options.since.isoformat()
    separator = "&" if "?" in url else "?"
    headers = {**session.headers(_FHIR_JSON), "Prefer": "respond-async"}
    response = session.send("GET", f"{url}{separator}{urlencode(query)}", "kick-off", headers)
    response.read()
    if response.status_code != 202:
        raise BulkDataError(f"kick-off: the server answered {_outcome(response)}, not 202")
    location = response.headers.get("Content-Location")
    if not location:
        raise BulkDataError("kick-off: the 202 answer has no Content-Location (status URL)")
    return str(httpx.URL(url).join(location))


def _poll(
    session: _Session, status_url: str, options: BulkOptions, report: Progress
) -> dict[str, Any]:
    while True:
        response = session.send("GET", status_url, "status", session.headers(_FHIR_JSON))
        response.read()
        if response.status_code == 202:
            progress = response.headers.get("X-Progress", "in progress")
            report(f"export on the server: {progress[:60]}", 0, 0)
            session.wait(_retry_after(response, 2.0, options.max_retry_after), "status")
            continue
        if response.status_code != 200:
            raise BulkDataError(f"status: the server answered {_outcome(response)}")
        try:
            manifest = response.json()
        except ValueError:
            raise BulkDataError("status: the manifest is not JSON") from None
        if not isinstance(manifest, dict) or not isinstance(manifest.get("output"), list):
            raise BulkDataError('status: the manifest has no "output" list')
        return manifest


# -- downloads -------------------------------------------------------------------------------------
@dataclass
class _State:
    path: Path
    kickoff_url: str
    status_url: str | None = None
    manifest: dict[str, Any] | None = None
    done: dict[str, str] = field(default_factory=dict)
    """Output URL -> local file name, for every file fully downloaded and checked."""

    @classmethod
    def load(cls, folder: Path, kickoff_url: str) -> _State:
        path = folder / STATE_NAME
        if not path.is_file():
            return cls(path, kickoff_url)
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("kickoff_url") != kickoff_url:
            raise BulkDataError(
                f"{path}: holds a download of {data.get('kickoff_url')!r}; use another folder"
            )
        return cls(path, kickoff_url, data.get("status_url"), data.get("manifest"), data["done"])

    def save(self) -> None:
        data = {
            "kickoff_url": self.kickoff_url,
            "status_url": self.status_url,
            "manifest": self.manifest,
            "done": self.done,
        }
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps(data, indent=2), encoding="utf-8")
        os.replace(partial, self.path)


def _outputs(manifest: dict[str, Any]) -> Iterator[tuple[int, str, str, int | None]]:
    for index, entry in enumerate(manifest["output"]):
        if not isinstance(entry, dict):
            raise BulkDataError(f"manifest output[{index}]: is not an object")
        kind, url, count = entry.get("type"), entry.get("url"), entry.get("count")
        if not isinstance(kind, str) or not isinstance(url, str):
            raise BulkDataError(f'manifest output[{index}]: needs "type" and "url"')
        yield index, kind, url, count if isinstance(count, int) else None


def _download_all(session: _Session, state: _State, folder: Path, report: Progress) -> None:
    assert state.manifest is not None
    authorise = bool(state.manifest.get("requiresAccessToken", True))
    for index, kind, url, count in _outputs(state.manifest):
        if url in state.done and (folder / state.done[url]).is_file():
            continue
        name = f"{kind}.{index:03d}.ndjson"
        _download(session, url, folder / name, count, authorise, report)
        state.done[url] = name
        state.save()


def _download(
    session: _Session,
    url: str,
    target: Path,
    count: int | None,
    authorise: bool,
    report: Progress,
) -> None:
    part = target.with_name(target.name + ".part")
    last_error = ""
    for attempt in range(session.options.retries + 1):
        if attempt:
            session.options.sleep(min(2.0**attempt, session.options.max_retry_after))
        try:
            digest = _fetch(session, url, part, authorise, report, target.name)
        except _TransientError as error:
            last_error = str(error)
            continue
        _check_file(part, url, count, digest)
        os.replace(part, target)
        return
    raise BulkDataError(
        f"download of {url}: failed after {session.options.retries + 1} attempts ({last_error})"
    )


class _TransientError(Exception):
    """A download broke off (connection, 5xx): retried, resuming from the bytes we have."""


def _fetch(
    session: _Session, url: str, part: Path, authorise: bool, report: Progress, name: str
) -> str | None:
    """Append the rest of `url` to `part`; returns the server's SHA-256 digest if it sent one
    for the whole file (a full 200 answer)."""
    have = part.stat().st_size if part.is_file() else 0
    headers = session.headers(_NDJSON, authorise=authorise)
    if have:
        headers["Range"] = f"bytes={have}-"
    response = session.send("GET", url, f"download of {name}", headers, stream=True)
    try:
        if response.status_code >= 500:
            raise _TransientError(_outcome(response))
        if response.status_code == 416 and have:
            return None  # we already hold every byte
        if response.status_code not in (200, 206):
            response.read()
            raise BulkDataError(f"download of {url}: the server answered {_outcome(response)}")
        mode = "ab" if response.status_code == 206 else "wb"
        done = have if mode == "ab" else 0
        total = int(response.headers.get("Content-Length", 0)) + done
        with part.open(mode) as handle:
            try:
                for chunk in response.iter_bytes():
                    handle.write(chunk)
                    done += len(chunk)
                    report(f"downloading {name}", done, total)
            except httpx.HTTPError as error:
                raise _TransientError(f"broke off after {done} bytes: {error}") from None
        if total and done < total:
            raise _TransientError(f"broke off after {done} of {total} bytes")
        return _sha256_header(response) if mode == "wb" else None
    finally:
        response.close()


def _sha256_header(response: httpx.Response) -> str | None:
    """The SHA-256 a server offers (`Content-Digest: sha-256=:B64:` or `Digest: SHA-256=B64`)."""
    for header in ("Content-Digest", "Digest"):
        for item in response.headers.get(header, "").split(","):
            algorithm, _, value = item.strip().partition("=")
            if algorithm.lower() == "sha-256" and value:
                return base64.b64decode(value.strip(":")).hex()
    return None


def _check_file(part: Path, url: str, count: int | None, digest: str | None) -> None:
    sha = hashlib.sha256()
    lines, last = 0, b"\n"
    with part.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
            lines += block.count(b"\n")
            last = block[-1:]
    lines += last != b"\n"  # a last line without its newline
    if digest is not None and sha.hexdigest() != digest:
        part.unlink()
        raise BulkDataError(f"download of {url}: the SHA-256 does not match the server's digest")
    if count is not None and lines != count:
        part.unlink()
        raise BulkDataError(
            f"download of {url}: {lines} lines where the manifest announces {count} resources"
        )


def _write_manifest(folder: Path, state: _State) -> None:
    """The manifest the screen reads: the server's, with each url naming the local file."""
    assert state.manifest is not None
    local = dict(state.manifest)
    local["output"] = [
        {**entry, "url": state.done[entry["url"]], "source_url": entry["url"]}
        for entry in state.manifest["output"]
    ]
    partial = folder / (MANIFEST_NAME + ".partial")
    partial.write_text(json.dumps(local, indent=2), encoding="utf-8")
    os.replace(partial, folder / MANIFEST_NAME)

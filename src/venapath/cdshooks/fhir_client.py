"""Fetch what the EHR did not prefetch, from its FHIR server, within a tight time budget.

CDS Hooks asks a service to answer "on the order of 500 ms", so each query gets a short
timeout, searches follow at most a few `next` pages, and any failure is reported as
`FhirServerUnavailable` (the hook then answers 412, as the specification requires when data
is missing and the server cannot be reached).
"""

from __future__ import annotations

from typing import Any

import httpx

from venapath.errors import UnavailableError

MAX_PAGES = 5


class FhirServerUnavailableError(UnavailableError):
    """The FHIR server could not supply a query's result; the message says why."""


class FhirFetcher:
    def __init__(self, client: httpx.AsyncClient, timeout_seconds: float) -> None:
        self._client = client
        self._timeout = httpx.Timeout(timeout_seconds, connect=min(1.0, timeout_seconds))

    async def fetch(self, base_url: str, query: str, access_token: str | None) -> tuple[Any, bool]:
        """The resource or search Bundle for `query`, and whether every page was read."""
        headers = {"Accept": "application/fhir+json"}
        if access_token:
            headers["Authorization"] = f"Bearer {access_token}"
        url: str | None = base_url.rstrip("/") + "/" + query.lstrip("/")
        entries: list[Any] = []
        first: Any = None
        pages = 0
        while url is not None and pages < MAX_PAGES:
            body = await self._get(url, headers)
            pages += 1
            if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
                return body, True
            first = first or body
            entries.extend(body.get("entry") or [])
            url = _next_link(body)
            if url is not None and not url.startswith(base_url.rstrip("/") + "/"):
                url = None  # never send the access token to another server
                return {**first, "entry": entries}, False
        complete = url is None
        return {**first, "entry": entries}, complete

    async def _get(self, url: str, headers: dict[str, str]) -> Any:
        try:
            response = await self._client.get(url, headers=headers, timeout=self._timeout)
        except httpx.HTTPError as error:
            raise FhirServerUnavailableError(
                f"{type(error).__name__} calling the FHIR server"
            ) from None
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise FhirServerUnavailableError(f"the FHIR server answered {response.status_code}")
        try:
            return response.json()
        except ValueError:
            raise FhirServerUnavailableError("the FHIR server did not answer JSON") from None


def _next_link(bundle: dict[str, Any]) -> str | None:
    for link in bundle.get("link") or []:
        if isinstance(link, dict) and link.get("relation") == "next" and link.get("url"):
            return str(link["url"])
    return None

"""Transport hardening for every response: a Host allow-list and the security headers.

- Host: only the names in `Settings.served_hosts` (the public base URL's host, configured
  extra names, loopback in development); anything else is 400, which defeats DNS rebinding
  against a server bound to loopback.
- Content-Security-Policy without inline script or style, `frame-ancestors` from
  `VENAPATH_FRAME_ANCESTORS` (an EHR that embeds VenaPath) or 'none';
  X-Content-Type-Options, Referrer-Policy (no-referrer: URLs may name a record),
  Permissions-Policy, HSTS when the public base URL is https.
- Cache-Control: no-store on every response except static assets, so no patient data is
  kept by a browser or a shared cache.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from venapath.settings import Settings

CACHEABLE_PREFIXES = ("/static/", "/docs/assets/")
HSTS = b"max-age=31536000; includeSubDomains"


def content_security_policy(frame_ancestors: tuple[str, ...]) -> str:
    ancestors = " ".join(frame_ancestors) if frame_ancestors else "'none'"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        f"frame-ancestors {ancestors}"
    )


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.hosts = settings.served_hosts
        headers = [
            (b"content-security-policy", content_security_policy(settings.frame_ancestors)),
            (b"x-content-type-options", "nosniff"),
            (b"referrer-policy", "no-referrer"),
            (b"permissions-policy", "camera=(), microphone=(), geolocation=()"),
            (b"cross-origin-resource-policy", "same-origin"),
        ]
        self.fixed = [(name, value.encode()) for name, value in headers]
        if not settings.frame_ancestors:
            self.fixed.append((b"x-frame-options", b"DENY"))
        if settings.https:
            self.fixed.append((b"strict-transport-security", HSTS))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self._host_served(scope):
            await _bad_host(send)
            return
        cacheable = str(scope["path"]).startswith(CACHEABLE_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in self.fixed if h[0] not in present)
                if not cacheable and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _host_served(self, scope: Scope) -> bool:
        for name, value in scope.get("headers", []):
            if name == b"host":
                host = value.decode("latin-1").lower()
                if host.startswith("["):
                    host = host.split("]")[0] + "]"
                else:
                    host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
                return host in self.hosts
        return False


async def _bad_host(send: Send) -> None:
    payload = json.dumps(
        {
            "type": "about:blank",
            "title": "Invalid host",
            "status": 400,
            "detail": "this service does not answer for that Host header",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})

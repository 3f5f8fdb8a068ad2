"""An OpenID Connect provider for tests, on loopback: discovery, authorize (signs in
`user` at once), token (checks the code, client, redirect URI and PKCE S256 verifier) and JWKS."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

CLIENT_ID = "venapath-test"
KID = "idp-key-1"


@cache
def provider_key() -> rsa.RSAPrivateKey:
    """One signing key for every provider of a run: an RSA key costs a tenth of a second."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class OidcTestProvider:
    def __init__(self) -> None:
        self.key = provider_key()
        self.user: dict[str, Any] = {"sub": "u-1", "name": "Dr Test", "groups": ["vascular"]}
        self.wrong_nonce = False
        self.codes: dict[str, dict[str, str]] = {}
        self.token_requests: list[dict[str, str]] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/.well-known/openid-configuration":
                    self._json(provider.discovery())
                elif url.path == "/jwks":
                    self._json(provider.jwks())
                elif url.path == "/authorize":
                    self.send_response(302)
                    self.send_header("Location", provider.authorize(query))
                    self.end_headers()
                else:
                    self._json({"error": "not_found"}, 404)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                body, status = provider.token(form)
                self._json(body, status)

            def _json(self, body: dict[str, Any], status: int = 200) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
        }

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        public.update({"kid": KID, "alg": "RS256", "use": "sig"})
        return {"keys": [public]}

    def authorize(self, query: dict[str, str]) -> str:
        assert query["response_type"] == "code"
        assert query["code_challenge_method"] == "S256"
        code = secrets.token_urlsafe(16)
        self.codes[code] = query
        answer = {"code": code, "state": query["state"]}
        return f"{query['redirect_uri']}?{urlencode(answer)}"

    def token(self, form: dict[str, str]) -> tuple[dict[str, Any], int]:
        self.token_requests.append(form)
        started = self.codes.pop(form.get("code", ""), None)
        if started is None or form.get("client_id") != CLIENT_ID:
            return {"error": "invalid_grant"}, 400
        if form.get("redirect_uri") != started["redirect_uri"]:
            return {"error": "invalid_grant"}, 400
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if challenge != started["code_challenge"]:
            return {"error": "invalid_grant", "error_description": "PKCE"}, 400
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": "not-the-nonce" if self.wrong_nonce else started["nonce"],
            **self.user,
        }
        id_token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": KID})
        return {"id_token": id_token, "access_token": "opaque", "token_type": "Bearer"}, 200

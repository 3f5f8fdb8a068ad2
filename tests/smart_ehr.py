"""A SMART-capable test EHR, served on loopback by the tests: never an outside service.

It is an authorization server (`/auth/authorize`, `/auth/token`, `/auth/jwks`) and a FHIR R4
server (`/fhir`, with `.well-known/smart-configuration`) holding one patient, the CVT record
of tests/fhir_fixtures.py. It checks what a real EHR checks (client id, redirect URI, `aud`,
PKCE S256, single-use codes, the bearer token's patient, signed client assertions) and
records what it was asked, so tests can look at the requests VenaPath made. Switches on the
object make it misbehave on purpose: deny consent, refuse the code, name a patient user.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import urlencode

import jwt
import uvicorn
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from fhir_fixtures import cvt_record
from server_support import free_port

CLIENT_ID = "venapath-test"
BACKEND_CLIENT_ID = "venapath-screening-job"
PRACTITIONER = "Practitioner/dr-okafor"
PATIENT_ID = "p1"


@cache
def ehr_key() -> rsa.RSAPrivateKey:
    """One signing key for every test EHR of a run: an RSA key costs a tenth of a second."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class LoopbackEhr:
    """The EHR's state and switches; `app` serves it."""

    base: str
    redirect_uris: set[str] = field(default_factory=set)
    backend_jwks: dict[str, Any] = field(default_factory=lambda: {"keys": []})
    app_jwks: dict[str, Any] | None = None
    """Set: VenaPath is a confidential asymmetric client and must sign its code exchange."""
    verified_app_assertions: int = 0
    record: list[dict[str, Any]] = field(default_factory=cvt_record)
    launches: dict[str, dict[str, Any]] = field(default_factory=dict)
    deny_consent: bool = False
    refuse_code: bool = False
    fhir_user: str = PRACTITIONER
    forge_id_token: bool = False
    pkce_methods: tuple[str, ...] = ("S256",)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    fhir_requests: list[str] = field(default_factory=list)
    _codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    _tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    _seen_jti: set[str] = field(default_factory=set)
    _key: rsa.RSAPrivateKey = field(default_factory=lambda: ehr_key())

    @property
    def fhir_base(self) -> str:
        return f"{self.base}/fhir"

    @property
    def issuer(self) -> str:
        return f"{self.base}/auth"

    @property
    def token_url(self) -> str:
        return f"{self.base}/auth/token"

    def new_launch(self, patient: str = PATIENT_ID, app_context: str | None = None) -> str:
        """What the EHR does when a user opens VenaPath from the chart: an opaque launch id."""
        launch = secrets.token_urlsafe(12)
        self.launches[launch] = {"patient": patient, "appContext": app_context}
        return launch

    def issued_tokens(self) -> list[str]:
        return list(self._tokens)

    # ---------------------------------------------------------------- authorization

    def authorize(self, params: dict[str, str]) -> Response:
        self.authorize_requests.append(params)
        redirect_uri = params.get("redirect_uri", "")
        if params.get("client_id") != CLIENT_ID or redirect_uri not in self.redirect_uris:
            return JSONResponse({"error": "invalid_client"}, status_code=400)
        problems = [
            params.get("response_type") != "code",
            params.get("code_challenge_method") != "S256",
            not params.get("code_challenge"),
            params.get("aud") != self.fhir_base,
            not params.get("state"),
        ]
        scopes = params.get("scope", "").split()
        context = self._launch_context(params, scopes)
        if any(problems) or context is None:
            return self._back(redirect_uri, error="invalid_request", state=params.get("state"))
        if self.deny_consent:
            return self._back(redirect_uri, error="access_denied", state=params["state"])
        code = secrets.token_urlsafe(16)
        self._codes[code] = {
            "redirect_uri": redirect_uri,
            "challenge": params["code_challenge"],
            "scope": " ".join(scopes),
            **context,
        }
        return self._back(redirect_uri, code=code, state=params["state"])

    def _launch_context(self, params: dict[str, str], scopes: list[str]) -> dict[str, Any] | None:
        if "launch" in scopes:
            return self.launches.get(params.get("launch", ""))
        if "launch/patient" in scopes:  # standalone: the EHR's patient picker chose p1
            return {"patient": PATIENT_ID, "appContext": None}
        return None

    @staticmethod
    def _back(redirect_uri: str, **params: str | None) -> Response:
        query = urlencode({k: v for k, v in params.items() if v is not None})
        return RedirectResponse(f"{redirect_uri}?{query}", status_code=302)

    # ----------------------------------------------------------------------- tokens

    def token(self, form: dict[str, str]) -> Response:
        self.token_requests.append(form)
        if form.get("grant_type") == "authorization_code":
            return self._code_grant(form)
        if form.get("grant_type") == "client_credentials":
            return self._client_credentials(form)
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)

    def _code_grant(self, form: dict[str, str]) -> Response:
        grant = self._codes.pop(form.get("code", ""), None)
        if self.app_jwks is not None:
            if self._verified_assertion(form, CLIENT_ID, self.app_jwks) is None:
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            self.verified_app_assertions += 1
        if (
            self.refuse_code
            or grant is None
            or form.get("client_id") != CLIENT_ID
            or form.get("redirect_uri") != grant["redirect_uri"]
            or create_s256_code_challenge(form.get("code_verifier", "")) != grant["challenge"]
        ):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        access_token = secrets.token_urlsafe(24)
        self._tokens[access_token] = {"patient": grant["patient"], "scope": grant["scope"]}
        body: dict[str, Any] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": grant["scope"],
            "patient": grant["patient"],
            "id_token": self._id_token(),
        }
        if grant.get("appContext"):
            body["appContext"] = grant["appContext"]
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    def _id_token(self) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": self.fhir_user.rsplit("/", 1)[-1],
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "fhirUser": f"{self.fhir_base}/{self.fhir_user}",
        }
        key = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if self.forge_id_token
            else self._key
        )
        return jwt.encode(claims, key, algorithm="RS384", headers={"kid": "ehr-1"})

    def _client_credentials(self, form: dict[str, str]) -> Response:
        claims = self._verified_assertion(form, BACKEND_CLIENT_ID, self.backend_jwks)
        if claims is None:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        access_token = secrets.token_urlsafe(24)
        self._tokens[access_token] = {"patient": None, "scope": form.get("scope", "")}
        return JSONResponse(
            {
                "access_token": access_token,
                "token_type": "bearer",
                "expires_in": 300,
                "scope": form.get("scope", ""),
            }
        )

    def _verified_assertion(
        self, form: dict[str, str], client_id: str, jwks: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The claims of a valid private_key_jwt client assertion, or None."""
        assertion = form.get("client_assertion", "")
        if form.get("client_assertion_type") != (
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        ):
            return None
        try:
            header = jwt.get_unverified_header(assertion)
            keys = jwt.PyJWKSet.from_dict(jwks)
            key = next(k for k in keys.keys if k.key_id == header.get("kid"))
            claims: dict[str, Any] = jwt.decode(
                assertion,
                key=key.key,
                algorithms=["RS384", "ES384"],
                audience=self.token_url,
                issuer=client_id,
                options={"require": ["exp", "iat", "jti", "sub", "iss", "aud"]},
            )
        except (jwt.PyJWTError, StopIteration):
            return None
        too_long = claims["exp"] - int(time.time()) > 300
        if claims["sub"] != client_id or too_long or claims["jti"] in self._seen_jti:
            return None
        self._seen_jti.add(claims["jti"])
        return claims

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
        public.update({"kid": "ehr-1", "use": "sig", "alg": "RS384"})
        return {"keys": [public]}

    # -------------------------------------------------------------------------- FHIR

    def read(self, request: Request, resource_type: str, resource_id: str | None) -> Response:
        self.fhir_requests.append(str(request.url))
        grant = self._tokens.get(request.headers.get("authorization", "")[len("Bearer ") :])
        if grant is None:
            return JSONResponse({"resourceType": "OperationOutcome"}, status_code=401)
        patient = resource_id if resource_type == "Patient" else request.query_params.get("patient")
        if grant["patient"] is not None and patient != grant["patient"]:
            return JSONResponse({"resourceType": "OperationOutcome"}, status_code=403)
        matches = [r for r in self.record if r["resourceType"] == resource_type]
        if resource_id is not None:
            found = [r for r in matches if r.get("id") == resource_id]
            return JSONResponse(found[0]) if found else Response(status_code=404)
        return JSONResponse(
            {
                "resourceType": "Bundle",
                "type": "searchset",
                "total": len(matches),
                "entry": [{"resource": r} for r in matches],
            }
        )

    def configuration(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{self.base}/auth/jwks",
            "authorization_endpoint": f"{self.base}/auth/authorize",
            "token_endpoint": self.token_url,
            "grant_types_supported": ["authorization_code", "client_credentials"],
            "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
            "scopes_supported": ["openid", "fhirUser", "launch", "launch/patient"],
            "response_types_supported": ["code"],
            "capabilities": [
                "launch-ehr",
                "launch-standalone",
                "client-public",
                "client-confidential-asymmetric",
                "context-ehr-patient",
                "context-standalone-patient",
                "sso-openid-connect",
                "permission-v2",
            ],
            "code_challenge_methods_supported": list(self.pkce_methods),
        }


def ehr_app(ehr: LoopbackEhr) -> FastAPI:
    app = FastAPI()

    @app.get("/fhir/.well-known/smart-configuration")
    def configuration() -> dict[str, Any]:
        return ehr.configuration()

    @app.get("/auth/authorize")
    def authorize(request: Request) -> Response:
        return ehr.authorize(dict(request.query_params))

    @app.post("/auth/token")
    async def token(request: Request) -> Response:
        form = await request.form()
        return ehr.token({k: str(v) for k, v in form.items()})

    @app.get("/auth/jwks")
    def jwks() -> dict[str, Any]:
        return ehr.jwks()

    @app.get("/fhir/{resource_type}/{resource_id}")
    def read(request: Request, resource_type: str, resource_id: str) -> Response:
        return ehr.read(request, resource_type, resource_id)

    @app.get("/fhir/{resource_type}")
    def search(request: Request, resource_type: str) -> Response:
        return ehr.read(request, resource_type, None)

    return app


@contextmanager
def running_ehr() -> Iterator[LoopbackEhr]:
    """The test EHR on a free loopback port, in a thread, for as long as the block runs."""
    port = free_port()
    ehr = LoopbackEhr(base=f"http://127.0.0.1:{port}")
    config = uvicorn.Config(ehr_app(ehr), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test EHR did not start")
        time.sleep(0.02)
    try:
        yield ehr
    finally:
        server.should_exit = True
        thread.join(timeout=10)

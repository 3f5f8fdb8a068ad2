"""VenaPath as a SMART App Launch 2.x client: discovery, PKCE, the code exchange, the launch user.

The flow (HL7 SMART App Launch 2.x, "App Launch: Launch and Authorization"):

1. The EHR opens `/smart/launch?iss=FHIR_BASE&launch=OPAQUE` (EHR launch), or a person opens
   `/smart/launch` outside the EHR (standalone launch, `launch/patient` asks the EHR to pick a
   patient). `iss` must be an EHR this deployment registered with; outside development its
   FHIR base must be https, because the access token will be sent to it.
2. The app reads `{iss}/.well-known/smart-configuration` for the authorization and token
   endpoints and checks the server offers PKCE S256.
3. The browser goes to the authorization endpoint with `state` (random, bound to the browser by
   a cookie), `aud` (the FHIR base), the scopes, and a PKCE S256 code challenge.
4. The EHR redirects back with `code` and `state`; the app exchanges the code (with the PKCE
   verifier) for an access token, the `patient` in context and an OpenID `id_token` whose
   `fhirUser` claim names the user. The token stays on the server.

This module does no web framework work and keeps no state: the HTTP routes (api/smart_routes.py)
hold the launch state in `identity/launch_store.py`.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from venapath.domain.access import Principal, Role
from venapath.errors import (
    InputError,
    NotFoundError,
    RefusedError,
    UnauthenticatedError,
    UnavailableError,
)

CONFIGURATION_PATH = ".well-known/smart-configuration"
EHR_LAUNCH_SCOPE = "launch"
STANDALONE_PATIENT_SCOPE = "launch/patient"
IDENTITY_SCOPES = ("openid", "fhirUser")
ID_TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384"]
CLINICIAN_USER_TYPES = frozenset({"Practitioner", "PractitionerRole"})
"""`fhirUser` resource types that open VenaPath as a clinician; other users are refused."""


class SmartLaunchRefusedError(RefusedError):
    """A launch that cannot go on: unknown EHR, bad state, consent denied, token refused."""

    title = "SMART launch refused"


class SmartNotSetUpError(NotFoundError):
    """This server has no SMART client id: `/smart/*` is switched off (404)."""

    def __init__(self) -> None:
        super().__init__("SMART launch", "this server")
        self.message = "SMART launch is not set up on this server (VENAPATH_SMART_CLIENT_ID)"
        self.args = (self.message,)


class SmartConfiguration(BaseModel):
    """The parts of an EHR's `.well-known/smart-configuration` this client uses."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    authorization_endpoint: str = Field(min_length=1)
    token_endpoint: str = Field(min_length=1)
    issuer: str | None = None
    jwks_uri: str | None = None
    capabilities: tuple[str, ...] = ()
    code_challenge_methods_supported: tuple[str, ...] = ()
    grant_types_supported: tuple[str, ...] = ()
    token_endpoint_auth_methods_supported: tuple[str, ...] = ()
    token_endpoint_auth_signing_alg_values_supported: tuple[str, ...] = ()
    scopes_supported: tuple[str, ...] = ()


class TokenResponse(BaseModel):
    """The token endpoint's answer: OAuth 2 fields plus the SMART launch context."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    access_token: str = Field(min_length=1)
    token_type: str
    scope: str = ""
    expires_in: int | None = Field(default=None, ge=0)
    id_token: str | None = None
    patient: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9\-\.]{1,64}$",
        description="A FHIR id: it goes into queries.",
    )
    encounter: str | None = None
    appContext: str | None = None  # noqa: N815 (CDS Hooks card link context, passed through)


@dataclass(frozen=True)
class Pkce:
    """A PKCE pair (RFC 7636): the verifier stays on the server, the S256 challenge travels."""

    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        verifier = secrets.token_urlsafe(64)  # 86 characters, inside RFC 7636's 43..128
        return cls(verifier, create_s256_code_challenge(verifier))


def new_secret() -> str:
    """An unguessable value for `state`, the browser-binding cookie and the session cookie."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """What the launch store keeps instead of a browser secret: a stolen table holds no cookie."""
    return hashlib.sha256(secret.encode()).hexdigest()


# ------------------------------------------------------------------------------ scopes


def read_scopes(resource_types: Iterable[str]) -> list[str]:
    """SMART v2 patient-level read+search scopes for the resource types the rules can use.

    The caller passes `fhir.requirements.feed_for_rules(kb).resource_types`, the same list
    the CDS Hooks prefetch is built from, so a rule that reads a new resource type widens
    the request by itself."""
    return [f"patient/{resource_type}.rs" for resource_type in sorted(set(resource_types))]


def launch_scope(resource_types: Iterable[str], *, ehr_launch: bool) -> str:
    """The scope parameter: launch context, the user's identity, and the reads."""
    context = EHR_LAUNCH_SCOPE if ehr_launch else STANDALONE_PATIENT_SCOPE
    return " ".join([context, *IDENTITY_SCOPES, *read_scopes(resource_types)])


# --------------------------------------------------------------------------- the EHR


def normal_base(url: str) -> str:
    """A FHIR base URL compared without its trailing slash."""
    return url.strip().rstrip("/")


def check_issuer(iss: str, registered: Iterable[str], *, require_https: bool) -> str:
    """The FHIR base `iss` when VenaPath may launch from it; refused otherwise.

    Only registered EHRs: an attacker's `iss` would otherwise receive the user's browser and,
    after the exchange, send VenaPath a patient of its choosing. Outside development the base
    must be https, since the access token will be sent to it."""
    base = normal_base(iss)
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise InputError.at("/iss", "must be the absolute http(s) URL of a FHIR server")
    if require_https and parts.scheme != "https":
        raise SmartLaunchRefusedError(
            "the EHR's FHIR base must be https outside development; the access token "
            "is never sent over plain http"
        )
    if base not in {normal_base(known) for known in registered}:
        raise SmartLaunchRefusedError(
            "this FHIR server is not registered to launch VenaPath "
            "(VENAPATH_SMART_ISSUERS lists the ones that are)"
        )
    return base


def check_endpoint(url: str, name: str, *, require_https: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UnavailableError(f"the EHR's {name} is not an absolute URL")
    if require_https and parts.scheme != "https":
        raise SmartLaunchRefusedError(f"the EHR's {name} must be https outside development")


def authorization_url(
    configuration: SmartConfiguration,
    *,
    client_id: str,
    redirect_uri: str,
    scope: str,
    state: str,
    audience: str,
    pkce: Pkce,
    launch: str | None,
) -> str:
    """Where the browser goes to authorise the launch (SMART "Obtain authorization code")."""
    params = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("scope", scope),
        ("state", state),
        ("aud", audience),
        ("code_challenge", pkce.challenge),
        ("code_challenge_method", "S256"),
    ]
    if launch is not None:
        params.append(("launch", launch))
    return str(add_params_to_uri(configuration.authorization_endpoint, params))


class SmartClient:
    """The three calls a launch makes to the EHR: discovery, code exchange, signing keys."""

    def __init__(self, http: httpx.AsyncClient, timeout_seconds: float) -> None:
        self._http = http
        self._timeout = httpx.Timeout(timeout_seconds, connect=min(2.0, timeout_seconds))

    async def configuration(self, fhir_base: str, *, require_https: bool) -> SmartConfiguration:
        """The EHR's SMART configuration; refused when it does not offer PKCE S256."""
        body = await self._get_json(f"{normal_base(fhir_base)}/{CONFIGURATION_PATH}", "discovery")
        try:
            configuration = SmartConfiguration.model_validate(body)
        except ValidationError:
            raise UnavailableError(
                "the EHR's .well-known/smart-configuration lacks an authorization or token endpoint"
            ) from None
        if "S256" not in configuration.code_challenge_methods_supported:
            raise SmartLaunchRefusedError(
                "the EHR does not offer PKCE with S256 (code_challenge_methods_supported)"
            )
        check_endpoint(
            configuration.authorization_endpoint,
            "authorization endpoint",
            require_https=require_https,
        )
        check_endpoint(configuration.token_endpoint, "token endpoint", require_https=require_https)
        return configuration

    async def exchange_code(
        self,
        configuration: SmartConfiguration,
        *,
        code: str,
        redirect_uri: str,
        client_id: str,
        verifier: str,
        client_authentication: dict[str, str] | None = None,
    ) -> TokenResponse:
        """Trade the authorization code (and the PKCE verifier) for the access token.

        `client_authentication` holds the signed client assertion fields when VenaPath is
        registered as a confidential asymmetric client; a public client sends none."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": client_id,
            "code_verifier": verifier,
            **(client_authentication or {}),
        }
        body = await self._post_form(configuration.token_endpoint, form)
        try:
            token = TokenResponse.model_validate(body)
        except ValidationError:
            raise UnavailableError(
                "the EHR's token response lacks an access token or names no valid patient id"
            ) from None
        if token.token_type.lower() != "bearer":
            raise SmartLaunchRefusedError("the EHR issued a token that is not a Bearer token")
        return token

    async def identity_claims(
        self, configuration: SmartConfiguration, id_token: str, client_id: str
    ) -> dict[str, Any]:
        """The verified claims of the OpenID `id_token` (signature, `aud`, `iss`, `exp`)."""
        if configuration.jwks_uri is None or configuration.issuer is None:
            raise SmartLaunchRefusedError(
                "the EHR publishes no issuer or jwks_uri, so the user's identity cannot be verified"
            )
        keys = jwt.PyJWKSet.from_dict(await self._get_json(configuration.jwks_uri, "key set"))
        try:
            header = jwt.get_unverified_header(id_token)
            key = next(
                (k for k in keys.keys if header.get("kid") in (None, k.key_id)),
                None,
            )
            if key is None:
                raise SmartLaunchRefusedError("the id_token names a key the EHR does not publish")
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key=key.key,
                algorithms=ID_TOKEN_ALGORITHMS,
                audience=client_id,
                issuer=configuration.issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
                leeway=30,
            )
        except jwt.PyJWTError as error:
            raise UnauthenticatedError(f"the EHR's id_token was refused: {error}") from None
        return claims

    async def _get_json(self, url: str, what: str) -> Any:
        try:
            response = await self._http.get(
                url, headers={"Accept": "application/json"}, timeout=self._timeout
            )
        except httpx.HTTPError as error:
            raise UnavailableError(
                f"the EHR's {what} could not be read ({type(error).__name__})"
            ) from None
        if response.status_code != 200:
            raise UnavailableError(f"the EHR's {what} answered {response.status_code}")
        return _json(response, what)

    async def _post_form(self, url: str, form: dict[str, str]) -> Any:
        try:
            response = await self._http.post(
                url, data=form, headers={"Accept": "application/json"}, timeout=self._timeout
            )
        except httpx.HTTPError as error:
            raise UnavailableError(
                f"the EHR's token endpoint could not be reached ({type(error).__name__})"
            ) from None
        if response.status_code >= 400:
            raise SmartLaunchRefusedError(
                f"the EHR's token endpoint refused the exchange: {_oauth_error(response)}"
            )
        return _json(response, "token endpoint")


def _json(response: httpx.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise UnavailableError(f"the EHR's {what} did not answer JSON") from None


def _oauth_error(response: httpx.Response) -> str:
    """The OAuth `error` code only (never the description: it may echo a code or token)."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    return (
        error
        if isinstance(error, str) and error.isascii() and len(error) < 64
        else str(response.status_code)
    )


# --------------------------------------------------------------------- who launched


def fhir_user_type(fhir_user: str) -> str:
    """`Practitioner` from `Practitioner/123` or `https://ehr/fhir/Practitioner/123`."""
    parts = fhir_user.rstrip("/").split("/")
    return parts[-2] if len(parts) >= 2 else ""


def launch_principal(claims: dict[str, Any], token: TokenResponse, *, session_id: str) -> Principal:
    """The user the EHR launched VenaPath for, confined to the launch patient.

    Role from the `fhirUser` claim's resource type: a Practitioner (or PractitionerRole) opens
    VenaPath as a clinician. A patient or relative has no clinician view here and is refused;
    so is a launch without a patient in context, since the app shows one patient."""
    fhir_user = claims.get("fhirUser")
    if not isinstance(fhir_user, str) or not fhir_user:
        raise SmartLaunchRefusedError("the id_token has no fhirUser claim (scope fhirUser)")
    if fhir_user_type(fhir_user) not in CLINICIAN_USER_TYPES:
        raise SmartLaunchRefusedError(
            "VenaPath opens from the EHR for practitioners only; this user is a "
            f"{fhir_user_type(fhir_user) or 'user of unknown type'}"
        )
    if not token.patient:
        raise SmartLaunchRefusedError("the EHR sent no patient in context with the token")
    _check_app_context(token)
    return Principal(
        subject=f"{claims['iss']}#{claims['sub']}",
        display=fhir_user,
        roles=frozenset({Role.CLINICIAN}),
        method="smart",
        session_id=session_id,
        patient_id=token.patient,
    )


def _check_app_context(token: TokenResponse) -> None:
    """A card's `appContext` names its patient; the EHR must launch with that same patient."""
    if not token.appContext:
        return
    try:
        context = json.loads(token.appContext)
    except ValueError:
        return  # another app's context format; nothing of ours to check
    if isinstance(context, dict) and context.get("patient") not in (None, token.patient):
        raise SmartLaunchRefusedError(
            "the EHR launched VenaPath for another patient than the card it was opened from"
        )

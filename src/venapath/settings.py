"""One settings object, read from the environment (prefix VENAPATH_) and an optional `.env`.

Insecure choices are refused outside development: the CDS Hooks service must know which
issuers it trusts and the https address it is called at (the JWT audience). Only
`VENAPATH_ENV=development` turns JWT checking off, and the server log says so at start-up.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as PydanticSettingsError

from venapath.errors import ArgumentError


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class TrustedIssuer(BaseModel):
    """A CDS client (EHR) allowed to call the service, and where its signing keys live."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    iss: str = Field(min_length=1, description="The `iss` claim the EHR puts in its JWTs.")
    jwks_url: HttpUrl | None = Field(default=None, description="The EHR's JWK Set URL.")
    jwks: dict[str, Any] | None = Field(default=None, description="Or the JWK Set itself.")
    allowed_jku: tuple[HttpUrl, ...] = Field(
        default=(), description="JWK Set URLs this issuer may name in a token's `jku` header."
    )

    @model_validator(mode="after")
    def _has_keys(self) -> Self:
        if self.jwks_url is None and self.jwks is None and not self.allowed_jku:
            raise ValueError(f"issuer {self.iss!r} needs jwks_url, jwks or allowed_jku")
        return self


class ApiIssuer(BaseModel):
    """An OAuth 2 authorization server whose bearer JWTs the REST API accepts (machine
    clients with SMART v2 scopes). Distinct from the CDS Hooks issuers: an EHR that may call
    the CDS services is not thereby allowed to read the registry."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    iss: str = Field(min_length=1, description="The `iss` claim of its access tokens.")
    jwks_url: HttpUrl | None = Field(default=None, description="Its JWK Set URL.")
    jwks: dict[str, Any] | None = Field(default=None, description="Or the JWK Set itself.")
    audience: str | None = Field(
        default=None,
        description="The `aud` its tokens must carry; default: VENAPATH_PUBLIC_BASE_URL.",
    )

    @model_validator(mode="after")
    def _has_keys(self) -> Self:
        if self.jwks_url is None and self.jwks is None:
            raise ValueError(f"API issuer {self.iss!r} needs jwks_url or jwks")
        return self


class OidcProvider(BaseModel):
    """The hospital's OpenID Connect provider for staff sign-in (authorization code + PKCE)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    issuer: HttpUrl = Field(
        description="Its issuer; discovery is read from ISSUER/.well-known/openid-configuration."
    )
    client_id: str = Field(min_length=1)
    client_secret: str | None = Field(default=None, description="None for a public client.")
    scope: str = "openid profile email"
    role_claim: str = Field(
        default="roles",
        description="The claim that lists the user's "
        "groups or roles (a string or a list of strings).",
    )
    role_mapping: dict[str, Literal["clinician", "coordinator", "researcher", "admin"]] = Field(
        default_factory=dict,
        description="Claim value -> VenaPath role (clinician, coordinator, researcher, admin); "
        "a user with no mapped value is refused.",
    )


class StorageSettings(BaseSettings):
    """Where the registry lives; all that command-line tools need from the environment."""

    model_config = SettingsConfigDict(
        env_prefix="VENAPATH_", env_file=".env", extra="ignore", frozen=True
    )

    data_dir: Path = Path("var")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db; "
        "default: the SQLite file venapath.sqlite3 in the data directory.",
    )


class AccountSettings(StorageSettings):
    """What local-account commands need: no server settings, so `venapath users` works on a
    machine configured for production before its issuers are set."""

    env: Environment = Environment.PRODUCTION
    password_min_length: int = Field(
        default=15,
        ge=8,
        le=64,
        description="NIST SP 800-63B-4 section 3.1.1.2: 15 for a single-factor password.",
    )
    sign_in_lockout_threshold: int = Field(default=5, ge=1, le=100)
    sign_in_lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)

    @property
    def development(self) -> bool:
        return self.env is Environment.DEVELOPMENT


class Settings(AccountSettings):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_base_url: HttpUrl | None = Field(
        default=None,
        description="The address EHRs call (e.g. https://cds.example.org); JWT `aud` is "
        "this plus the service path.",
    )
    trusted_issuers: tuple[TrustedIssuer, ...] = ()
    max_body_bytes: int = Field(default=2_000_000, ge=1_000, le=100_000_000)
    fhir_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)
    log_level: str = Field(default="info", pattern=r"^(debug|info|warning|error)$")
    # Identity: who may call the REST API and the pages (docs/security.md).
    api_issuers: tuple[ApiIssuer, ...] = ()
    max_token_lifetime_seconds: int = Field(
        default=3600, ge=60, le=86_400, description="Longest exp - iat a bearer JWT may have."
    )
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    session_absolute_hours: int = Field(default=12, ge=1, le=7 * 24)
    allowed_hosts: tuple[str, ...] = Field(
        default=(),
        description="Host header values served; always includes the host of "
        "VENAPATH_PUBLIC_BASE_URL, and loopback names in development.",
    )
    frame_ancestors: tuple[str, ...] = Field(
        default=(),
        description="Origins allowed to frame the pages (an EHR embedding VenaPath); "
        "none by default.",
    )
    docs_enabled: bool | None = Field(
        default=None, description="Serve /docs and /openapi.json; default: development only."
    )
    oidc: OidcProvider | None = None
    # Hardening at the edge (docs/operations.md): the pool that runs parsing and evaluation
    # off the event loop, and the per-client rate limit of the routes that use it.
    work_threads: int = Field(default=2, ge=1, le=64)
    work_processes: int = Field(
        default=0,
        ge=0,
        le=64,
        description="Worker processes for REST evaluation (0: threads). Recommended in "
        "production (docs/operations.md); needs the bundled knowledge base.",
    )
    work_queue: int = Field(default=32, ge=0, le=10_000)
    rate_limit_per_minute: int = Field(default=12_000, ge=1, le=10_000_000)
    rate_limit_burst: int = Field(default=400, ge=1, le=1_000_000)
    web_languages: tuple[str, ...] = Field(
        default=("en",),
        description="Languages the pages are offered in (negotiated from Accept-Language). "
        "A catalogue under src/venapath/web/locale/ is offered only when listed here: list one "
        "only after a qualified medical translator has reviewed it (patients read its advice).",
    )
    screen_results_dir: Path | None = Field(
        default=None,
        description="Folder of the last `venapath screen --out` (summary.json and "
        "patients.parquet) that the /screening page shows; none: the page says so.",
    )

    @property
    def development(self) -> bool:
        return self.env is Environment.DEVELOPMENT

    @property
    def jwt_required(self) -> bool:
        return not self.development

    @property
    def serve_docs(self) -> bool:
        return self.development if self.docs_enabled is None else self.docs_enabled

    @property
    def api_audience(self) -> str | None:
        """The `aud` bearer JWTs must carry when their issuer names none."""
        return str(self.public_base_url).rstrip("/") if self.public_base_url else None

    @property
    def https(self) -> bool:
        return self.public_base_url is not None and self.public_base_url.scheme == "https"

    @property
    def served_hosts(self) -> frozenset[str]:
        """The Host header values the service answers (a guard against DNS rebinding)."""
        hosts = {h.lower() for h in self.allowed_hosts}
        if self.public_base_url is not None and self.public_base_url.host:
            hosts.add(self.public_base_url.host.lower())
        if self.development:
            hosts |= {"127.0.0.1", "localhost", "::1", "[::1]", self.host.lower()}
        return frozenset(hosts)

    @model_validator(mode="after")
    def _secure_outside_development(self) -> Self:
        if self.development:
            return self
        missing = []
        if not self.trusted_issuers:
            missing.append("VENAPATH_TRUSTED_ISSUERS (the EHRs allowed to call, with their keys)")
        if self.public_base_url is None or self.public_base_url.scheme != "https":
            missing.append("VENAPATH_PUBLIC_BASE_URL as an https:// address (the JWT audience)")
        if missing:
            raise ValueError(
                "refusing insecure settings outside development: set "
                + "; ".join(missing)
                + " — or set VENAPATH_ENV=development for a local, unauthenticated server"
            )
        return self


class SettingsError(ArgumentError):
    """Settings cannot be used; the message lists every problem by variable name."""


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise _settings_error(error) from None


def load_account_settings() -> AccountSettings:
    """The settings `venapath users` needs; a bad value is a SettingsError naming it."""
    try:
        return AccountSettings()
    except ValidationError as error:
        raise _settings_error(error) from None


def _settings_error(error: ValidationError) -> SettingsError:
    """Every problem of `error`, each named by its environment variable (VENAPATH_...)."""
    problems = []
    for detail in error.errors():
        name = "VENAPATH_" + "_".join(str(p) for p in detail["loc"]).upper()
        problems.append(detail["msg"] if not detail["loc"] else f"{name}: {detail['msg']}")
    return SettingsError("; ".join(problems))


def database_url(settings: StorageSettings | None = None) -> str:
    """VENAPATH_DATABASE_URL, else the embedded SQLite file in the data directory."""
    settings = settings or StorageSettings()
    if settings.database_url:
        return settings.database_url
    return f"sqlite:///{(settings.data_dir / 'venapath.sqlite3').resolve()}"


BackendAlgorithm = Literal["RS384", "ES384"]
"""The signing algorithms SMART names for asymmetric client assertions."""


class SmartSettings(BaseSettings):
    """VenaPath as a SMART on FHIR app (docs/smart.md): read from VENAPATH_SMART_*.

    Without a client id, SMART launch is off and `/smart/*` answers that it is not set up."""

    model_config = SettingsConfigDict(
        env_prefix="VENAPATH_SMART_", env_file=".env", extra="ignore", frozen=True
    )

    client_id: str | None = Field(
        default=None, description="The client id the EHR gave VenaPath when it was registered."
    )
    issuers: tuple[str, ...] = Field(
        default=(),
        description="FHIR base URLs of the EHRs allowed to launch VenaPath (JSON list). "
        "Outside development each must be https.",
    )
    standalone_iss: str | None = Field(
        default=None, description="The EHR a standalone launch (opened outside the EHR) uses."
    )
    redirect_url: HttpUrl | None = Field(
        default=None,
        description="The redirect URI registered with the EHR; default: "
        "VENAPATH_PUBLIC_BASE_URL + /smart/callback.",
    )
    launch_url: HttpUrl | None = Field(
        default=None,
        description="The launch URL CDS cards link to ('Open in VenaPath'); default: "
        "VENAPATH_PUBLIC_BASE_URL + /smart/launch. No link without either.",
    )

    private_key_file: Path | None = Field(
        default=None,
        description="Optional: a PEM private key that makes VenaPath a confidential client "
        "(SMART client-confidential-asymmetric, private_key_jwt) at the token endpoint.",
    )
    key_id: str | None = Field(default=None, description="The `kid` of the registered public key.")
    algorithm: BackendAlgorithm = "RS384"
    token_key: SecretStr | None = Field(
        default=None,
        description="The AES-256-GCM key that encrypts the EHR access tokens kept for SMART "
        "launches: 32 random bytes, base64url-encoded. Required outside development.",
    )

    @property
    def enabled(self) -> bool:
        return bool(self.client_id)

    @field_validator("token_key")
    @classmethod
    def _a_whole_key(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and len(_key_bytes(key)) != TOKEN_KEY_BYTES:
            raise ValueError(
                f"must be {TOKEN_KEY_BYTES} random bytes, base64url-encoded (44 characters)"
            )
        return key

    @model_validator(mode="after")
    def _key_with_its_id(self) -> Self:
        if self.private_key_file is not None and not self.key_id:
            raise ValueError(
                "VENAPATH_SMART_KEY_ID is required with VENAPATH_SMART_PRIVATE_KEY_FILE"
            )
        return self


TOKEN_KEY_BYTES = 32
DEVELOPMENT_TOKEN_KEY = hashlib.sha256(b"venapath development SMART token key").digest()
"""Development only: a key anyone can derive, so launches survive restarts and work across
worker processes without configuration. It protects nothing; production must set its own."""


def _key_bytes(key: SecretStr) -> bytes:
    try:
        return base64.urlsafe_b64decode(key.get_secret_value().strip().encode())
    except (ValueError, binascii.Error):
        return b""


def smart_token_key(settings: Settings, smart: SmartSettings) -> bytes:
    """The key for the EHR access tokens SMART launches keep at rest.

    VENAPATH_SMART_TOKEN_KEY when set. Outside development a SMART app without one is
    refused, like the other insecure settings (the server does not start); in development
    the published DEVELOPMENT_TOKEN_KEY stands in."""
    if smart.token_key is not None:
        return _key_bytes(smart.token_key)
    if smart.enabled and not settings.development:
        raise SettingsError(
            "refusing insecure settings outside development: set VENAPATH_SMART_TOKEN_KEY "
            "(32 random bytes, base64url-encoded) so EHR access tokens are encrypted at rest"
        )
    return DEVELOPMENT_TOKEN_KEY


def load_smart_settings() -> SmartSettings:
    """VENAPATH_SMART_* from the environment; a bad value is a SettingsError naming it."""
    try:
        return SmartSettings()
    except PydanticSettingsError as error:  # a value that is not the JSON a list needs
        field = str(error).split('"')[1] if '"' in str(error) else "?"
        raise SettingsError(
            f"VENAPATH_SMART_{field.upper()}: cannot be parsed (a JSON list?)"
        ) from None
    except ValidationError as error:
        problems = [
            "VENAPATH_SMART_"
            + "_".join(str(p) for p in detail["loc"]).upper()
            + ": "
            + detail["msg"]
            for detail in error.errors()
        ]
        raise SettingsError("; ".join(problems)) from None


class BackendServicesSettings(BaseSettings):
    """VENAPATH_BACKEND_*: VenaPath as a backend-services client of one EHR."""

    model_config = SettingsConfigDict(
        env_prefix="VENAPATH_BACKEND_", env_file=".env", extra="ignore", frozen=True
    )
    client_id: str = Field(min_length=1)
    token_url: HttpUrl
    private_key_file: Path = Field(description="PEM private key (RSA for RS384, P-384 for ES384).")
    key_id: str = Field(min_length=1, description="The `kid` of the registered public key.")
    algorithm: BackendAlgorithm = "RS384"
    scope: str = Field(default="system/*.rs", min_length=1)
    jku: HttpUrl | None = Field(
        default=None, description="VenaPath's JWK Set URL, when the EHR reads keys from one."
    )

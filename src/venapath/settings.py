"""One settings object, read from the environment (prefix VENAPATH_) and an optional `.env`.

Insecure choices are refused outside development: the CDS Hooks service must know which
issuers it trusts and the https address it is called at (the JWT audience). Only
`VENAPATH_ENV=development` turns JWT checking off, and the server log says so at start-up.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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


class Settings(StorageSettings):
    env: Environment = Environment.PRODUCTION
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

    @property
    def development(self) -> bool:
        return self.env is Environment.DEVELOPMENT

    @property
    def jwt_required(self) -> bool:
        return not self.development

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
        problems = []
        for detail in error.errors():
            name = "VENAPATH_" + "_".join(str(p) for p in detail["loc"]).upper()
            problems.append(detail["msg"] if not detail["loc"] else f"{name}: {detail['msg']}")
        raise SettingsError("; ".join(problems)) from None


def database_url(settings: StorageSettings | None = None) -> str:
    """VENAPATH_DATABASE_URL, else the embedded SQLite file in the data directory."""
    settings = settings or StorageSettings()
    if settings.database_url:
        return settings.database_url
    return f"sqlite:///{(settings.data_dir / 'venapath.sqlite3').resolve()}"

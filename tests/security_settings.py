"""Production-mode settings for security tests: trusted issuers, an https base URL."""

from __future__ import annotations

from identity_support import identity_settings
from jwt_support import BASE, issuer_settings
from venapath.settings import Settings, load_settings


def production_settings(**overrides: object) -> Settings:
    return load_settings(
        trusted_issuers=issuer_settings(),
        public_base_url=BASE,
        **{**identity_settings(), **overrides},
    )

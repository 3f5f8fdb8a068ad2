"""The EHR access token of a SMART launch is kept encrypted, bound to its launch row, and a
SMART app outside development without its key does not start."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import select

from jwt_support import BASE, issuer_settings
from venapath.domain.access import Principal, Role
from venapath.identity.launch_store import LaunchStore
from venapath.identity.smart import SmartConfiguration, SmartLaunchRefusedError, digest
from venapath.identity.token_cipher import TokenCipher
from venapath.persistence.tables import SmartLaunchRow
from venapath.services.registry import Registry
from venapath.settings import (
    DEVELOPMENT_TOKEN_KEY,
    SettingsError,
    SmartSettings,
    load_settings,
    load_smart_settings,
    smart_token_key,
)

KEY = bytes(range(32))
TOKEN = "eyJhbGciOiJSUzI1NiJ9.the-ehr-access-token.signature"


def test_a_sealed_token_is_not_the_token_and_opens_only_on_its_row() -> None:
    cipher = TokenCipher(KEY)
    sealed = cipher.seal(TOKEN, "row-1")
    assert sealed.startswith("v1.")
    assert TOKEN not in sealed
    assert cipher.seal(TOKEN, "row-1") != sealed  # a fresh nonce each time
    assert cipher.open(sealed, "row-1") == TOKEN
    with pytest.raises(SmartLaunchRefusedError, match="cannot be read"):
        cipher.open(sealed, "row-2")  # copied into another launch's row
    with pytest.raises(SmartLaunchRefusedError, match="cannot be read"):
        TokenCipher(bytes(32)).open(sealed, "row-1")  # the key was changed
    with pytest.raises(SmartLaunchRefusedError):
        cipher.open(TOKEN, "row-1")  # a plain token left from before is not used


def test_the_launch_store_keeps_only_ciphertext(module_registry: Registry) -> None:
    store = LaunchStore(module_registry.database, TokenCipher(KEY))
    now = datetime.now(UTC)
    store.begin(
        state="at-rest-state",
        browser_secret="b",
        kind="ehr",
        fhir_base="https://ehr.test/fhir",
        configuration=SmartConfiguration(
            authorization_endpoint="https://ehr.test/a", token_endpoint="https://ehr.test/t"
        ),
        redirect_uri="https://venapath.test/smart/callback",
        code_verifier="v" * 64,
        now=now,
    )
    store.consume(state="at-rest-state", browser_secret="b", now=now)
    store.open_session(
        state="at-rest-state",
        session_secret="at-rest-session",
        principal=Principal("ehr#dr", "Practitioner/dr", frozenset({Role.CLINICIAN}), "smart"),
        access_token=TOKEN,
        scope="launch",
        expires_in=600,
        now=now,
    )
    with module_registry.database.session() as session:
        stored = session.scalars(
            select(SmartLaunchRow.access_token).where(
                SmartLaunchRow.state_digest == digest("at-rest-state")
            )
        ).one()
    assert stored is not None
    assert TOKEN not in stored
    assert "the-ehr-access-token" not in stored
    assert store.session("at-rest-session", now=now).access_token == TOKEN
    with pytest.raises(SmartLaunchRefusedError, match="key has changed"):
        LaunchStore(module_registry.database, TokenCipher(bytes(32))).session(
            "at-rest-session", now=now
        )


def test_production_refuses_a_smart_app_without_a_token_key() -> None:
    production = load_settings(trusted_issuers=issuer_settings(), public_base_url=BASE)
    with pytest.raises(SettingsError, match="VENAPATH_SMART_TOKEN_KEY"):
        smart_token_key(production, SmartSettings(client_id="vp"))
    key = SecretStr(base64.urlsafe_b64encode(KEY).decode())
    assert smart_token_key(production, SmartSettings(client_id="vp", token_key=key)) == KEY
    # SMART off: no token is ever kept, so no key is needed
    assert smart_token_key(production, SmartSettings()) == DEVELOPMENT_TOKEN_KEY
    development = load_settings(env="development")
    assert smart_token_key(development, SmartSettings(client_id="vp")) == DEVELOPMENT_TOKEN_KEY


@pytest.mark.parametrize("value", ["too-short", base64.urlsafe_b64encode(b"x" * 16).decode()])
def test_a_token_key_that_is_not_32_bytes_is_named(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValidationError, match="32 random bytes"):
        SmartSettings(token_key=SecretStr(value))
    monkeypatch.setenv("VENAPATH_SMART_TOKEN_KEY", value)
    with pytest.raises(SettingsError, match="VENAPATH_SMART_TOKEN_KEY"):
        load_smart_settings()


def test_the_key_never_shows_in_the_settings_repr() -> None:
    secret = base64.urlsafe_b64encode(KEY).decode()
    smart = SmartSettings(client_id="vp", token_key=SecretStr(secret))
    assert secret not in repr(smart)
    assert secret not in str(smart.model_dump())

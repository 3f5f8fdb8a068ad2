"""Settings refuse insecure defaults outside development, naming the variables to set."""

from __future__ import annotations

import pytest

from venapath.settings import Environment, SettingsError, load_settings

ISSUER = {"iss": "https://ehr.example.org", "jwks_url": "https://ehr.example.org/jwks"}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for name in ("VENAPATH_ENV", "VENAPATH_TRUSTED_ISSUERS", "VENAPATH_PUBLIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]  # no stray .env


def test_production_is_the_default_and_refuses_to_start_without_issuers() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "VENAPATH_TRUSTED_ISSUERS" in message
    assert "VENAPATH_PUBLIC_BASE_URL" in message


def test_production_refuses_a_plain_http_audience() -> None:
    with pytest.raises(SettingsError, match="https"):
        load_settings(trusted_issuers=[ISSUER], public_base_url="http://cds.example.org")


def test_production_with_issuers_and_https_requires_jwt() -> None:
    settings = load_settings(trusted_issuers=[ISSUER], public_base_url="https://cds.example.org")
    assert settings.jwt_required


def test_development_is_the_only_switch_that_turns_jwt_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VENAPATH_ENV", "development")
    settings = load_settings()
    assert settings.env is Environment.DEVELOPMENT
    assert not settings.jwt_required


def test_issuers_are_read_from_json_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VENAPATH_TRUSTED_ISSUERS", '[{"iss": "a", "jwks_url": "https://a/jwks"}]')
    monkeypatch.setenv("VENAPATH_PUBLIC_BASE_URL", "https://cds.example.org")
    assert load_settings().trusted_issuers[0].iss == "a"


def test_an_issuer_without_keys_is_refused() -> None:
    with pytest.raises(SettingsError, match="needs jwks_url"):
        load_settings(trusted_issuers=[{"iss": "a"}], public_base_url="https://x.org")

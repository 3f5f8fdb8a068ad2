"""SMART settings refuse what cannot work, by variable name, before a launch is attempted."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from venapath.api.app import create_app
from venapath.cdshooks.feedback import MemoryFeedbackStore
from venapath.kb.model import KnowledgeBase
from venapath.services.registry import Registry
from venapath.settings import SettingsError, SmartSettings, load_settings, load_smart_settings


def test_a_key_file_needs_its_key_id(tmp_path: Path) -> None:
    pem = tmp_path / "key.pem"
    pem.write_text("not a key")
    with pytest.raises(ValidationError, match="VENAPATH_SMART_KEY_ID"):
        SmartSettings(client_id="vp", private_key_file=pem)


def test_a_key_file_that_is_not_a_key_stops_the_server(
    tmp_path: Path, kb: KnowledgeBase, module_registry: Registry
) -> None:
    pem = tmp_path / "key.pem"
    pem.write_text("not a key")
    smart = SmartSettings(client_id="vp", private_key_file=pem, key_id="k1")
    with pytest.raises(SettingsError, match="VENAPATH_SMART_PRIVATE_KEY_FILE"):
        create_app(
            load_settings(env="development", allowed_hosts=["testserver"]),
            kb=kb,
            feedback=MemoryFeedbackStore(),
            registry=module_registry,
            smart=smart,
        )


def test_a_bad_environment_value_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VENAPATH_SMART_ISSUERS", "not json")
    with pytest.raises(SettingsError, match="VENAPATH_SMART_ISSUERS"):
        load_smart_settings()

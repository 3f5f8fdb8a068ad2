"""Password rules (NIST SP 800-63B-4) and SMART scope parsing, without the HTTP service."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from venapath.domain.access import Permission
from venapath.errors import InputError
from venapath.identity.passwords import (
    check_new_password,
    common_passwords,
    hash_password,
    verify_password,
)
from venapath.identity.scopes import grant_for, parse_scope


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short but ok", "at least 15"),
        ("1qaz2wsx3edc4rfv", "common or breached"),  # on the shipped list
        ("aaaaaaaaaaaaaaaaaaaa", "repeats"),
        ("abcdefghijklmnopqr", "sequence"),
        ("my name is jdoe-the-doctor", "user name"),
        ("i love venapath so much", "service name"),
        ("x" * 300 + "yz", "at most"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(password: str, reason: str) -> None:
    with pytest.raises(InputError) as refused:
        check_new_password(password, "jdoe-the-doctor", 15)
    assert refused.value.problems[0].pointer == "/password"
    assert reason in refused.value.problems[0].message


def test_a_long_passphrase_is_accepted_without_composition_rules() -> None:
    check_new_password("correct horse battery staple", "jdoe", 15)


def test_the_common_list_is_shipped() -> None:
    assert len(common_passwords()) > 10_000
    assert "1qaz2wsx3edc4rfv" in common_passwords()


def test_production_hashes_use_rfc_9106_parameters(
    production_password_hasher: PasswordHasher,
) -> None:
    """Tests hash with a cheap hasher (conftest); the one production uses is RFC 9106's second
    recommended option: argon2id, 3 passes, 64 MiB, 4 lanes."""
    stored = production_password_hasher.hash("a long and private pass phrase")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert production_password_hasher.verify(stored, "a long and private pass phrase")


def test_hashes_are_argon2id_and_verify_after_normalisation() -> None:
    stored = hash_password("ﬁne passphrase here")  # the "ﬁ" ligature, NFKC "fi"
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "fine passphrase here")
    assert not verify_password(stored, "fine passphrase HERE")
    assert not verify_password(None, "anything at all really")


@pytest.mark.parametrize(
    ("scope", "parsed"),
    [
        ("system/Patient.rs", ("system", "Patient", "rs")),
        ("user/*.cruds", ("user", "*", "cruds")),
        ("patient/Observation.read", ("patient", "Observation", "rs")),
        ("system/Patient.sr", None),  # letters out of order
        ("system/Patient.rr", None),
        ("launch/patient", None),
        ("system/Patient.rs?category=x", None),
    ],
)
def test_scope_grammar(scope: str, parsed: tuple[str, str, str] | None) -> None:
    assert parse_scope(scope) == parsed


def test_scopes_grant_permissions_and_patient_context() -> None:
    reads = grant_for("system/Patient.rs system/Task.rs")
    assert {Permission.PATIENT_READ, Permission.WORKLIST_READ} <= reads.permissions
    assert Permission.PATIENT_WRITE not in reads.permissions
    assert not reads.patient_context
    everything = grant_for("system/*.cruds")
    assert Permission.RECORD_EXPORT in everything.permissions
    assert Permission.ACCOUNTS_MANAGE not in everything.permissions
    assert grant_for("patient/Patient.rs").patient_context
    assert grant_for("openid fhirUser").permissions == frozenset({Permission.KNOWLEDGE_READ})

"""Passwords of local accounts: the rules a new one must meet, and its argon2id hash.

Rules from NIST SP 800-63B-4 (2025), section 3.1.1.2 "Password Verifiers":
- a password used as a single-factor authenticator is at least 15 characters (local accounts
  have no second factor; `VENAPATH_PASSWORD_MIN_LENGTH` may lower it to the standard's floor
  of 8 only where a second factor is added in front);
- at least 64 characters are accepted (we accept 256), every printable character and
  Unicode, counted in code points after NFKC normalisation; nothing is truncated;
- no composition rules (no "one digit, one capital");
- refused: common and compromised passwords (`data/common-passwords.txt`), repetitive or
  sequential characters, and words from the context (the user name, "venapath").
"""

from __future__ import annotations

import itertools
import unicodedata
from functools import lru_cache
from importlib.resources import files

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from venapath.errors import InputError

MAX_PASSWORD_LENGTH = 256
CONTEXT_WORDS = ("venapath",)

# argon2-cffi's default parameters are RFC 9106's "second recommended option" (argon2id,
# t=3, m=64 MiB, p=4): about 50 ms per hash on this machine.
_hasher = PasswordHasher()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Verified when the account does not exist, so that a wrong user name costs the same
    time; made on first use, not at import (a hash costs tens of milliseconds)."""
    return _hasher.hash("not-a-real-password-for-timing-only")


def normalise(password: str) -> str:
    """NFKC, as SP 800-63B-4 recommends before hashing, so the same text always matches."""
    return unicodedata.normalize("NFKC", password)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    text = files("venapath.identity").joinpath("data/common-passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def check_new_password(password: str, username: str, min_length: int) -> None:
    """Raise InputError (pointer /password) naming the first rule the password breaks."""
    text = normalise(password)
    problem = _problem(text, username, min_length)
    if problem:
        raise InputError.at("/password", problem)


def _problem(text: str, username: str, min_length: int) -> str | None:
    if len(text) < min_length:
        return f"use at least {min_length} characters (a passphrase of several words is easiest)"
    if len(text) > MAX_PASSWORD_LENGTH:
        return f"use at most {MAX_PASSWORD_LENGTH} characters"
    lowered = text.lower()
    if lowered in common_passwords():
        return "this password is on a list of common or breached passwords; choose another"
    if len(set(lowered)) <= 2:
        return "this password repeats the same characters; choose another"
    if _sequential(lowered):
        return "this password is a simple sequence; choose another"
    for word in (username.lower(), *CONTEXT_WORDS):
        if len(word) >= 4 and word in lowered:
            return "the password must not contain the user name or the service name"
    return None


def _sequential(text: str) -> bool:
    steps = {ord(b) - ord(a) for a, b in itertools.pairwise(text)}
    return len(steps) == 1 and steps <= {1, -1, 0}


def hash_password(password: str) -> str:
    return _hasher.hash(normalise(password))


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when the password matches; always spends one argon2 verification."""
    try:
        return _hasher.verify(stored_hash or _dummy_hash(), normalise(password)) and bool(
            stored_hash
        )
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)

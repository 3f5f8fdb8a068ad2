"""Encryption at rest of the EHR access tokens a SMART launch keeps (identity/launch_store.py).

AES-256-GCM (cryptography's AESGCM): a fresh 96-bit nonce per token, and the launch row's
key as associated data, so a ciphertext copied into another launch's row does not decrypt.
Stored as `v1.` + base64url(nonce + ciphertext + tag): the version names the scheme, so a
later one can be told apart. The key comes from VENAPATH_SMART_TOKEN_KEY
(settings.smart_token_key). A token that does not decrypt (the key was changed, the row was
edited) ends the launch: the user opens VenaPath from the EHR again.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from venapath.identity.smart import SmartLaunchRefusedError

SCHEME = "v1."
NONCE_BYTES = 12


class TokenCipher:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, token: str, row_key: str) -> str:
        """The token encrypted and bound to the row whose key is `row_key`."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, token.encode(), row_key.encode())
        return SCHEME + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, stored: str, row_key: str) -> str:
        """The token back; SmartLaunchRefusedError when it cannot be (wrong key or row)."""
        try:
            if not stored.startswith(SCHEME):
                raise ValueError("not an encrypted token")
            raw = base64.urlsafe_b64decode(stored.removeprefix(SCHEME).encode())
            plain = self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], row_key.encode())
        except (ValueError, binascii.Error, InvalidTag):
            raise SmartLaunchRefusedError(
                "the SMART session's access token cannot be read (the key has changed): "
                "open VenaPath from the EHR again"
            ) from None
        return plain.decode()

"""Encryption of exchange secrets at rest: AES-256-GCM under versioned master keys.

A sealed value reads `v<version>.<nonce>.<ciphertext>` (URL-safe base64), so each row says which
key opened it and keys can be rotated: add a new version, make it active, re-seal (`reseal`), and
retire the old one once nothing uses it. The associated data binds a ciphertext to its owner and
purpose, so a value copied into another row fails to open.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class VaultError(Exception):
    """A value cannot be sealed or opened; the message says why, never what."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def parse_keys(text: str) -> dict[int, bytes]:
    """`1:<base64 of 32 bytes>,2:<...>` → {1: key, 2: key}."""
    keys: dict[int, bytes] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        version, sep, encoded = item.partition(":")
        if not sep or not version.isdigit():
            raise ValueError("each key must look like <version>:<base64 key>")
        try:
            key = _unb64(encoded.strip())
        except (binascii.Error, ValueError):
            raise ValueError(f"key version {version} is not valid base64") from None
        if len(key) != 32:
            raise ValueError(f"key version {version} must be 32 bytes (AES-256), not {len(key)}")
        keys[int(version)] = key
    if not keys:
        raise ValueError("at least one key is needed")
    return keys


def new_key() -> str:
    """A fresh random key, in the form `parse_keys` reads."""
    return _b64(os.urandom(32))


class Vault:
    def __init__(self, keys: dict[int, bytes], active_version: int | None = None) -> None:
        if not keys:
            raise VaultError("no encryption key is configured")
        self._keys = keys
        self.active_version = active_version if active_version is not None else max(keys)
        if self.active_version not in keys:
            raise VaultError(f"the active key version {self.active_version} is not configured")

    def seal(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(NONCE_BYTES)  # random per value: the same secret never looks the same
        cipher = AESGCM(self._keys[self.active_version])
        sealed = cipher.encrypt(nonce, plaintext.encode(), context.encode())
        return f"v{self.active_version}.{_b64(nonce)}.{_b64(sealed)}"

    @staticmethod
    def version_of(sealed: str) -> int:
        prefix = sealed.split(".", 1)[0]
        if not prefix.startswith("v") or not prefix[1:].isdigit():
            raise VaultError("the stored value is not a sealed secret")
        return int(prefix[1:])

    def open(self, sealed: str, context: str) -> str:
        version = self.version_of(sealed)
        key = self._keys.get(version)
        if key is None:
            raise VaultError(
                f"the secret was sealed with key version {version}, which is not configured"
            )
        try:
            _prefix, nonce, body = sealed.split(".")
            return AESGCM(key).decrypt(_unb64(nonce), _unb64(body), context.encode()).decode()
        except (ValueError, binascii.Error, InvalidTag):
            raise VaultError(
                f"the secret does not open with key version {version} (wrong key or altered)"
            ) from None

    def reseal(self, sealed: str, context: str) -> str:
        """The same secret under the active key (for rotation); unchanged if already there."""
        if self.version_of(sealed) == self.active_version:
            return sealed
        return self.seal(self.open(sealed, context), context)

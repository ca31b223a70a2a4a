"""Encryption of secrets at rest (registry passwords, private keys).

Fernet (AES-CBC + HMAC) through MultiFernet: `DCHWEB_ENCRYPTION_KEY` is a
comma-separated list of keys, the first encrypts and all decrypt, so an
operator rotates by putting a new key first. Without it the key is derived
from SECRET_KEY with HKDF, so a development install needs no extra setting.
"""

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


class SecretUnreadable(Exception):
    """The stored ciphertext does not open with any configured key."""


def derive_key(secret_key: str) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"dchweb-secrets-at-rest",
        info=b"fernet-key",
    )
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


@lru_cache(maxsize=8)
def _multifernet(configured_keys: str, secret_key: str) -> MultiFernet:
    keys = [key.strip() for key in configured_keys.split(",") if key.strip()]
    if not keys:
        keys = [derive_key(secret_key)]
    return MultiFernet([Fernet(key) for key in keys])


def _cipher() -> MultiFernet:
    return _multifernet(settings.DCHWEB_ENCRYPTION_KEY, settings.SECRET_KEY)


def encrypt(plaintext: str) -> str:
    return _cipher().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _cipher().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "a stored secret does not decrypt: was DCHWEB_ENCRYPTION_KEY or "
            "DCHWEB_SECRET_KEY changed without keeping the old key?"
        ) from None


def rotate(ciphertext: str) -> str:
    """The same secret, encrypted again with the current first key."""
    return _cipher().rotate(ciphertext.encode()).decode()

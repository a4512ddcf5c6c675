"""Secrets at rest and in links: Fernet token encryption, API-key hashing, signed values."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from itsdangerous import BadSignature, URLSafeSerializer
from pydantic import SecretStr


class TokenCipher:
    """First key encrypts, every key decrypts, so keys can rotate."""

    def __init__(self, keys: list[SecretStr]) -> None:
        self._fernet = MultiFernet([Fernet(k.get_secret_value().encode()) for k in keys])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("token was encrypted with a key that is no longer configured") from exc

    def rotate(self, ciphertext: str) -> str:
        return self._fernet.rotate(ciphertext.encode()).decode()


API_KEY_PREFIX = "gcz_"


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(api_key: str) -> str:
    # The key has 256 bits of entropy, so a plain digest cannot be brute-forced.
    return hashlib.sha256(api_key.encode()).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class InvalidSignedValue(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Signer:
    """Signed values that expire: OAuth state, authorize links, widget sessions.

    The expiry travels inside the signed value and is compared with the caller's clock (the
    runtime's, which tests can move), not itsdangerous's wall-clock timestamp.
    """

    def __init__(self, secret_key: SecretStr) -> None:
        self._secret = secret_key.get_secret_value()

    def _serializer(self, purpose: str) -> URLSafeSerializer:
        return URLSafeSerializer(self._secret, salt=f"gocardless-zoho:{purpose}")

    def seal(self, purpose: str, value: dict[str, Any], *, expires_at: datetime) -> str:
        return str(self._serializer(purpose).dumps({**value, "exp": int(expires_at.timestamp())}))

    def open(self, purpose: str, token: str, *, now: datetime) -> dict[str, Any]:
        try:
            value = self._serializer(purpose).loads(token)
        except BadSignature as exc:
            raise InvalidSignedValue("invalid") from exc
        if not isinstance(value, dict) or not isinstance(value.get("exp"), int):
            raise InvalidSignedValue("invalid")
        if value["exp"] <= now.timestamp():
            raise InvalidSignedValue("expired")
        return value

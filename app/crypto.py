"""Secrets at rest and in links: Fernet token encryption, API-key hashing, signed values."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
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
    """Signed, expiring values for OAuth state and authorize links."""

    def __init__(self, secret_key: SecretStr) -> None:
        self._secret = secret_key.get_secret_value()

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self._secret, salt=f"gocardless-zoho:{purpose}")

    def sign(self, purpose: str, value: dict[str, Any]) -> str:
        return str(self._serializer(purpose).dumps(value))

    def unsign(self, purpose: str, token: str, *, max_age_seconds: int) -> dict[str, Any]:
        try:
            value = self._serializer(purpose).loads(token, max_age=max_age_seconds)
        except SignatureExpired as exc:
            raise InvalidSignedValue("expired") from exc
        except BadSignature as exc:
            raise InvalidSignedValue("invalid") from exc
        if not isinstance(value, dict):
            raise InvalidSignedValue("invalid")
        return value

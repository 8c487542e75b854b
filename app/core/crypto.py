"""Keys derived from SECRET_KEY, encryption of stored access tokens, hashing of API tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def derive_key(secret: str, purpose: str, length: int = 32) -> bytes:
    """A key for one purpose, so that no two uses of SECRET_KEY share key material."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=purpose.encode())
    return hkdf.derive(secret.encode())


class TokenCipher:
    """Encrypts access tokens at rest. Old keys may be listed to decrypt during rotation."""

    def __init__(self, secret: str, *old_secrets: str) -> None:
        keys = [secret, *old_secrets]
        self._fernet = MultiFernet(
            [Fernet(base64.urlsafe_b64encode(derive_key(k, "access-token"))) for k in keys]
        )

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("stored token cannot be decrypted with the current keys") from exc


def new_api_token() -> str:
    return "ip_" + secrets.token_urlsafe(32)


def hash_api_token(token: str) -> str:
    """API tokens are random and long, so a plain SHA-256 is a safe lookup hash."""
    return hashlib.sha256(token.encode()).hexdigest()


_password_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _password_hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _password_hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def hmac_sha256_hex(key: str, message: bytes) -> str:
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def same_secret(a: str, b: str) -> bool:
    """Constant-time equality for a secret and what a client sent (form, header, cookie).

    `hmac.compare_digest` raises TypeError on a `str` holding any non-ASCII character, so a
    client could turn a refusal into a 500; compared as UTF-8 bytes, any text is just unequal.
    """
    return hmac.compare_digest(
        a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass")
    )

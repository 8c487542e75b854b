"""Keys derived from SECRET_KEY, encryption of stored access tokens, hashing of API tokens."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import hmac
import os
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

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

# An Argon2 hash or check costs ~100 ms of CPU. Run on the event loop, it stalls every
# request of the process (a sign-in flood would delay Meta's webhook acknowledgements by
# seconds). argon2-cffi releases the GIL, so a few threads run it beside the loop; the
# pool is small and leaves a core to the loop, so a flood of sign-ins queues only itself.
# The threads also run at a lower CPU priority (nice 10): on a busy machine the
# scheduler then gives the event loop's thread the core first.
PASSWORD_THREADS = max(1, min(4, (os.cpu_count() or 2) - 1))
PASSWORD_NICE = 10


def _lower_priority() -> None:
    # On Linux a thread is its own scheduling entity: this lowers this thread only.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), PASSWORD_NICE)


_password_pool = ThreadPoolExecutor(
    PASSWORD_THREADS, thread_name_prefix="password-hash", initializer=_lower_priority
)


async def hash_password(password: str) -> str:
    """An Argon2 hash of the password, computed in the password thread pool."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_password_pool, _password_hasher.hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _password_hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str, password: str) -> bool:
    """Whether the password matches the hash, checked in the password thread pool."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_password_pool, _verify, password_hash, password)


@functools.cache
def _dummy_hash() -> str:
    return _password_hasher.hash(secrets.token_urlsafe(16))


async def verify_no_password(password: str) -> bool:
    """Costs what `verify_password` costs and is always False: for an unknown email, so
    timing does not tell which emails exist."""
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(_password_pool, lambda: _verify(_dummy_hash(), password))
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

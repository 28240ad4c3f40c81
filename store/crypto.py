"""Field encryption at rest (AES-256-GCM) and keyed lookup hashes.

Every personal field is stored as ``v1.<key_id>.<base64(nonce || ciphertext)>``. The key id names
which data key encrypted it, so a new ``AMPARO_DATA_KEY`` can be introduced while old rows stay
readable through ``AMPARO_DATA_KEY_PREVIOUS`` until ``amparo keys rotate`` has re-encrypted them.
Each field's purpose (``"beneficiary.full_name"``) is bound as associated data, so a ciphertext
copied into another column does not decrypt.

Phone numbers are never stored in clear: a caller is found through an HMAC of the E.164 number
under a key derived from the data key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "v1"


class DecryptionError(Exception):
    error_id = "field_decryption_failed"


def key_id_of(key: bytes) -> str:
    """A short, non-secret name for a key (first 8 hex digits of its SHA-256 under a label)."""
    return hashlib.sha256(b"amparo key id:" + key).hexdigest()[:8]


def derive(key: bytes, purpose: str, length: int = 32) -> bytes:
    """A sub-key of ``key`` for one purpose, so one master key never serves two uses."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=purpose.encode()).derive(
        key
    )


@dataclass
class FieldCipher:
    """Encrypts and decrypts personal fields; knows the current key and older ones."""

    current: bytes
    previous: tuple[bytes, ...] = ()
    _by_id: dict[str, AESGCM] = field(init=False, repr=False)
    _lookup_key: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.current) != 32 or any(len(k) != 32 for k in self.previous):
            raise ValueError("data keys are 32 bytes")
        self._by_id = {}
        for key in (*self.previous, self.current):
            self._by_id[key_id_of(key)] = AESGCM(derive(key, "amparo field encryption"))
        self._lookup_key = derive(self.current, "amparo lookup hash")

    @property
    def current_key_id(self) -> str:
        return key_id_of(self.current)

    def encrypt(self, plaintext: str, purpose: str) -> str:
        nonce = os.urandom(12)
        sealed = self._by_id[self.current_key_id].encrypt(
            nonce, plaintext.encode("utf-8"), purpose.encode()
        )
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{PREFIX}.{self.current_key_id}.{body}"

    def decrypt(self, token: str, purpose: str) -> str:
        try:
            prefix, key_id, body = token.split(".", 2)
        except ValueError as exc:
            raise DecryptionError("not an encrypted field") from exc
        if prefix != PREFIX or key_id not in self._by_id:
            raise DecryptionError(f"unknown key id {key_id!r}; is AMPARO_DATA_KEY_PREVIOUS set?")
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        try:
            clear = self._by_id[key_id].decrypt(raw[:12], raw[12:], purpose.encode())
        except InvalidTag as exc:
            raise DecryptionError("field failed authentication") from exc
        return clear.decode("utf-8")

    def key_id_in(self, token: str) -> str:
        return token.split(".", 2)[1]

    def needs_rotation(self, token: str) -> bool:
        return self.key_id_in(token) != self.current_key_id

    def lookup_hash(self, value: str) -> str:
        """Keyed hash used to find a row by an exact value (an E.164 number) without storing it."""
        return hmac.new(self._lookup_key, value.encode(), hashlib.sha256).hexdigest()

    def lookup_hash_with(self, key: bytes, value: str) -> str:
        return hmac.new(
            derive(key, "amparo lookup hash"), value.encode(), hashlib.sha256
        ).hexdigest()


_active: FieldCipher | None = None


def configure(cipher: FieldCipher) -> None:
    """Install the process's cipher (done once by the composition root)."""
    global _active
    _active = cipher


def active() -> FieldCipher:
    if _active is None:
        raise RuntimeError("field encryption is not configured (create_app configures it)")
    return _active


def cipher_from_keys(current: bytes, previous: Iterable[bytes] = ()) -> FieldCipher:
    return FieldCipher(current=current, previous=tuple(previous))

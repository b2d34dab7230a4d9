"""Encryption at rest for connection secrets: MultiFernet over settings.FIELD_ENCRYPTION_KEYS.

The first key encrypts; every key is tried to decrypt, so a new key can be put first while rows
written under the old one still read. ``manage.py rotate_encryption_keys`` then re-encrypts every
row under the first key. A value no key opens raises DecryptionError: never a plaintext fallback.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from integrations.keyfile import key_file_load_or_create
from integrations.redaction import secrets_register


class DecryptionError(Exception):
    """A stored value could not be decrypted with any configured key."""

    def __init__(self, message: str = "") -> None:
        super().__init__(
            message or "cannot decrypt: encrypted under a key that is not in FIELD_ENCRYPTION_KEYS"
        )


def configured_keys() -> tuple[str, ...]:
    """FIELD_ENCRYPTION_KEYS; unset (the embedded default only: production refuses to start
    without them), the one key kept in DATA_DIR/encryption.key, made on first use."""
    if settings.FIELD_ENCRYPTION_KEYS:
        return tuple(settings.FIELD_ENCRYPTION_KEYS)
    return (_key_file(Path(settings.DATA_DIR) / "encryption.key"),)


@cache
def _key_file(path: Path) -> str:
    return key_file_load_or_create(path)


def fernet() -> MultiFernet:
    """The MultiFernet for the keys configured now (re-read, so settings overrides apply)."""
    return _fernet(configured_keys())


def primary_fernet() -> Fernet:
    """The key new values are encrypted with."""
    return _keys(configured_keys())[0]


def encrypt_text(plain: str) -> str:
    return fernet().encrypt(plain.encode()).decode()


def decrypt_text(token: str) -> str:
    """Raises DecryptionError when no configured key opens ``token``."""
    try:
        return fernet().decrypt(token.encode()).decode()
    except (InvalidToken, UnicodeError):
        raise DecryptionError() from None


def is_current(token: str) -> bool:
    """True when ``token`` is encrypted under the first (current) key."""
    try:
        primary_fernet().decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def reencrypt(token: str) -> str:
    """``token`` re-encrypted under the first key; raises DecryptionError when no key opens it."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError() from None


@cache
def _keys(keys: tuple[str, ...]) -> list[Fernet]:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty")
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key.strip().encode()))
        except (ValueError, TypeError):
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEYS entry {position} is not a Fernet key"
                " (32 bytes, url-safe base64)"
            ) from None
    return fernets


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet(_keys(keys))


class EncryptedTextField(models.TextField):
    """A string stored as Fernet ciphertext; "" is stored as "" (nothing to hide)."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if not value:
            return value
        plain = decrypt_text(value)
        secrets_register([plain])
        return plain

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if not value:
            return value
        secrets_register([value])
        return encrypt_text(value)


class EncryptedJSONField(models.Field):
    """A JSON object stored as Fernet ciphertext of its JSON text; reads back as a dict."""

    # What django-stubs' mypy plugin reads as this field's set and get types.
    _pyi_private_set_type: dict[str, Any]
    _pyi_private_get_type: dict[str, Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default", dict)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def get_internal_type(self) -> str:
        return "TextField"

    def from_db_value(
        self, value: str | None, expression: Any, connection: Any
    ) -> dict[str, Any] | None:
        if value is None:
            return None
        if value == "":
            return {}
        data = json.loads(decrypt_text(value))
        secrets_register(_strings(data))
        return data

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value

    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise TypeError(f"{self.name} must be a dict, got {type(value).__name__}")
        secrets_register(_strings(value))
        return encrypt_text(json.dumps(value, separators=(",", ":"), sort_keys=True))

    def value_to_string(self, obj: models.Model) -> str:
        return json.dumps(self.value_from_object(obj))


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []

"""The embedded default's encryption key: one Fernet key kept in a file under ``DATA_DIR``.

Read when FIELD_ENCRYPTION_KEYS is unset (integrations/crypto.py), on first use, never at import.
Every process of one install (web, workers, Beat) reads the same file; the first to need it
creates it.
"""

import base64
import contextlib
import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured


def key_file_load_or_create(path: Path) -> str:
    """Return the key stored in ``path``, creating the file (mode 0600) with a new key if absent.

    Creation is atomic (written aside, then hard-linked into place), so processes starting together
    agree on one key. Raises ImproperlyConfigured when the file exists but is empty.
    """
    if not path.exists():
        _create(path)
    key = path.read_text().strip()
    if not key:
        raise ImproperlyConfigured(f"{path} is empty: restore the key or set FIELD_ENCRYPTION_KEYS")
    return key


def _create(path: Path) -> None:
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(key + "\n")
        # When another process won the race, its key is the one.
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        draft.unlink(missing_ok=True)

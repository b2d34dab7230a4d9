"""Encryption at rest: ciphertext in the database, rotation, wrong keys, the key file."""

import os
import stat
import subprocess
import sys
from io import StringIO

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection as db

from integrations.crypto import DecryptionError, decrypt_text, encrypt_text
from integrations.keyfile import key_file_load_or_create
from integrations.models import IntegrationConnection
from tests.conftest import ROOT, process_env
from tests.factories import ConnectionFactory

CANARY = "canary-5d1e0c9b-not-for-anyone"


def raw_columns(connection_id: int) -> tuple[str, str]:
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT credentials, webhook_url FROM integrations_integrationconnection WHERE id = %s",
            [connection_id],
        )
        return cursor.fetchone()


@pytest.fixture
def old_key(settings) -> str:
    key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [key]
    return key


@pytest.mark.django_db
def test_secrets_are_stored_as_ciphertext_not_plaintext():
    stored = ConnectionFactory(
        credentials={"signing_secret": CANARY}, webhook_url=f"https://h.example.com/{CANARY}"
    )
    credentials, webhook_url = raw_columns(stored.pk)
    assert CANARY not in credentials
    assert CANARY not in webhook_url
    assert decrypt_text(credentials) == f'{{"signing_secret":"{CANARY}"}}'
    reloaded = IntegrationConnection.objects.get(pk=stored.pk)
    assert reloaded.credentials == {"signing_secret": CANARY}
    assert reloaded.webhook_url == f"https://h.example.com/{CANARY}"


@pytest.mark.django_db
def test_rows_written_under_an_old_key_still_decrypt_once_a_new_key_is_put_first(settings, old_key):
    stored = ConnectionFactory(credentials={"signing_secret": CANARY})
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old_key]
    assert IntegrationConnection.objects.get(pk=stored.pk).credentials == {"signing_secret": CANARY}


@pytest.mark.django_db
def test_rotate_encryption_keys_leaves_no_value_under_the_old_key(settings, old_key):
    rows = [ConnectionFactory(credentials={"signing_secret": f"{CANARY}-{n}"}) for n in range(3)]
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    out = StringIO()
    call_command("rotate_encryption_keys", "--batch-size", "2", stdout=out)
    assert "6 value(s) re-encrypted" in out.getvalue()  # 3 credentials + 3 webhook URLs
    for row in rows:
        for token in raw_columns(row.pk):
            Fernet(new_key.encode()).decrypt(token.encode())
            with pytest.raises(InvalidToken):
                Fernet(old_key.encode()).decrypt(token.encode())
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert [IntegrationConnection.objects.get(pk=row.pk).credentials for row in rows] == [
        {"signing_secret": f"{CANARY}-{n}"} for n in range(3)
    ]


@pytest.mark.django_db
def test_rotating_twice_finds_nothing_left_to_do(settings, old_key):
    ConnectionFactory(credentials={"token": CANARY})
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old_key]
    call_command("rotate_encryption_keys", stdout=StringIO())
    out = StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    assert "0 value(s) re-encrypted, 2 already current" in out.getvalue()


@pytest.mark.django_db
def test_reading_a_row_under_a_key_that_is_gone_is_a_clear_error(settings, old_key):
    stored = ConnectionFactory(credentials={"token": CANARY})
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(DecryptionError, match="not in FIELD_ENCRYPTION_KEYS"):
        IntegrationConnection.objects.get(pk=stored.pk)


def test_a_wrong_key_never_falls_back_to_plaintext(settings):
    token = encrypt_text(CANARY)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(DecryptionError):
        decrypt_text(token)
    with pytest.raises(DecryptionError):
        decrypt_text(CANARY)  # a plaintext value is not accepted as if it were encrypted


def test_a_malformed_key_is_a_configuration_error(settings):
    settings.FIELD_ENCRYPTION_KEYS = ["not-a-fernet-key"]
    with pytest.raises(ImproperlyConfigured, match="entry 1 is not a Fernet key"):
        encrypt_text("x")


def test_the_key_file_is_created_private_once_and_then_reused(tmp_path):
    path = tmp_path / "encryption.key"
    key = key_file_load_or_create(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert key_file_load_or_create(path) == key
    Fernet(key.encode())  # a valid key


def settings_load(**env: str) -> subprocess.CompletedProcess[str]:
    environment = process_env(**env)
    environment.pop("FIELD_ENCRYPTION_KEYS", None)
    # Production also refuses the development SECRET_KEY (tests/security/test_hardening.py).
    environment["SECRET_KEY"] = "test-" + "0123456789abcdef" * 4
    environment.update(env)
    # Prints whether the key file existed once Django was set up, then how many keys there are.
    code = (
        "import django, pathlib; django.setup(); from django.conf import settings;"
        " print(pathlib.Path(settings.DATA_DIR, 'encryption.key').exists());"
        " from integrations.crypto import configured_keys; print(len(configured_keys()))"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip


def test_production_refuses_to_start_without_encryption_keys(tmp_path):
    result = settings_load(DJANGO_ENV="production", DATA_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS is required when DJANGO_ENV=production" in result.stderr
    assert not (tmp_path / "encryption.key").exists()


def test_production_starts_with_keys_and_development_makes_a_key_file_on_first_use(tmp_path):
    keys = f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}"
    production = settings_load(
        DJANGO_ENV="production", DATA_DIR=str(tmp_path / "p"), FIELD_ENCRYPTION_KEYS=keys
    )
    assert production.stdout.split() == ["False", "2"], production.stderr
    # Loading settings writes nothing; the key file is made when a key is first needed.
    development = settings_load(DATA_DIR=str(tmp_path / "d"))
    assert development.stdout.split() == ["False", "1"], development.stderr
    assert (tmp_path / "d" / "encryption.key").exists()

"""Re-encrypt every encrypted column of every row under the first FIELD_ENCRYPTION_KEYS key.

Rotation: put the new key first (keep the old ones after it), run this, then drop the old keys.
Works on the ciphertext (decrypt with any key, encrypt with the first), in batches, each batch in
its own transaction with its rows locked, so concurrent writers are neither lost nor blocked long.
Running it again finds nothing to do.
"""

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import models, transaction
from django.db.models.functions import Cast

from integrations.crypto import (
    DecryptionError,
    EncryptedJSONField,
    EncryptedTextField,
    is_current,
    reencrypt,
)

ENCRYPTED_FIELDS = (EncryptedJSONField, EncryptedTextField)


class Command(BaseCommand):
    help = "Re-encrypt every encrypted value under the first key of FIELD_ENCRYPTION_KEYS."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        total = 0
        for model in apps.get_models():
            fields = [
                f.name for f in model._meta.concrete_fields if isinstance(f, ENCRYPTED_FIELDS)
            ]
            if not fields:
                continue
            rewritten, current = self._rotate_model(model, fields, batch_size)
            total += rewritten
            label = model._meta.label
            self.stdout.write(
                f"{label}: {rewritten} value(s) re-encrypted, {current} already current"
            )
        self.stdout.write(self.style.SUCCESS(f"Done: {total} value(s) re-encrypted."))

    def _rotate_model(
        self, model: type[models.Model], fields: list[str], batch_size: int
    ) -> tuple[int, int]:
        rewritten = current = 0
        last_pk: Any = None
        while True:
            with transaction.atomic():
                rows = self._batch(model, fields, last_pk, batch_size)
                for row in rows:
                    changes = {}
                    for name in fields:
                        token = row[f"raw_{name}"]
                        if not token:
                            continue
                        if is_current(token):
                            current += 1
                            continue
                        changes[name] = models.Value(
                            self._reencrypt(model, row["pk"], name, token),
                            output_field=models.TextField(),
                        )
                    if changes:
                        model._default_manager.filter(pk=row["pk"]).update(**changes)
                        rewritten += len(changes)
            if len(rows) < batch_size:
                return rewritten, current
            last_pk = rows[-1]["pk"]

    def _batch(
        self, model: type[models.Model], fields: list[str], last_pk: Any, size: int
    ) -> list[dict[str, Any]]:
        # Cast to a plain text column: the raw ciphertext, not the field's decrypted value.
        raw = {f"raw_{name}": Cast(name, output_field=models.TextField()) for name in fields}
        queryset = model._default_manager.select_for_update().order_by("pk")
        if last_pk is not None:
            queryset = queryset.filter(pk__gt=last_pk)
        return list(queryset.annotate(**raw).values("pk", *raw)[:size])

    def _reencrypt(self, model: type[models.Model], pk: Any, name: str, token: str) -> str:
        try:
            return reencrypt(token)
        except DecryptionError as exc:
            raise CommandError(f"{model._meta.label} {pk} {name}: {exc}") from None

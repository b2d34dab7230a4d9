"""Executions now keep their active time in ``execution_time_ms`` (workflows 0009): the next
rollup refresh rebuilds every rollup, so the stats' averages are of active time throughout."""

from django.db import migrations


def rebuild_on_next_refresh(apps, schema_editor):
    Heartbeat = apps.get_model("analytics", "Heartbeat")
    Heartbeat.objects.filter(name="rollup").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0001_initial"),
        ("workflows", "0009_time_attempts_outbox"),
    ]

    operations = [migrations.RunPython(rebuild_on_next_refresh, migrations.RunPython.noop)]

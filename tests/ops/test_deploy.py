"""The production deployment as documented: compose.yaml (Docker cannot run here, so its structure
is checked), the variables docs/deploy.md lists, and the production settings started with them."""

import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.fernet import Fernet

from tests.conftest import ROOT

COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
DEPLOY_DOC = (ROOT / "docs" / "deploy.md").read_text()
APP_SERVICES = ("migrate", "web", "worker", "beat")
# Values an operator puts in .env for the variables compose requires (${NAME:?…}).
REQUIRED = {
    "SECRET_KEY": secrets.token_urlsafe(50),
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "POSTGRES_PASSWORD": secrets.token_urlsafe(16),
}
_REFERENCE = re.compile(r"\$\{([A-Z0-9_]+)(?::([?-])([^}]*))?\}")


def _resolved(value: str) -> str:
    """Compose's interpolation of ``value`` with only the required variables given."""

    def replace(match: re.Match[str]) -> str:
        name, kind, rest = match.groups()
        if kind == "?":
            return REQUIRED[name]
        return rest if kind == "-" else ""

    return _REFERENCE.sub(replace, value)


def _app_environment() -> dict[str, str]:
    return {name: _resolved(str(value)) for name, value in COMPOSE["x-app"]["environment"].items()}


def _command(service: str) -> str:
    command: Any = SERVICES[service].get("command", [])
    return " ".join(command) if isinstance(command, list) else command


def _settings_variables() -> set[str]:
    source = (ROOT / "config" / "settings.py").read_text()
    return set(re.findall(r'env_\w+\(\s*"([A-Z0-9_]+)"', source))


# --- compose.yaml ---------------------------------------------------------------------------------


def test_compose_runs_postgres_redis_web_workers_and_beat():
    assert set(SERVICES) >= {"postgres", "redis", "web", "worker", "beat", "migrate"}
    assert SERVICES["postgres"]["image"].startswith("postgres:")
    assert SERVICES["redis"]["image"].startswith("redis:")
    assert "celery -A config worker" in _command("worker")


def test_every_app_service_is_built_from_the_dockerfile_with_the_production_environment():
    for name in APP_SERVICES:
        service = SERVICES[name]
        assert service["build"] == "."
        assert service["environment"]["DJANGO_ENV"] == "production"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --no-deps ." in dockerfile
    assert "USER app" in dockerfile


def test_compose_runs_exactly_one_beat_with_the_database_scheduler():
    beat = SERVICES["beat"]
    assert "celery -A config beat" in _command("beat")
    assert "--scheduler=django_celery_beat.schedulers:DatabaseScheduler" in _command("beat")
    assert beat.get("deploy", {}).get("replicas", 1) == 1
    assert "scale" not in beat
    assert [name for name in SERVICES if "beat" in _command(name)] == ["beat"]


def test_web_workers_and_beat_start_only_after_the_migrations_succeeded():
    assert _command("migrate") == "python manage.py migrate --noinput"
    for name in ("web", "worker", "beat"):
        assert SERVICES[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }


def test_the_redis_broker_never_evicts_a_message():
    assert "--maxmemory-policy noeviction" in _command("redis")


def test_compose_refuses_to_start_without_the_secrets():
    environment = COMPOSE["x-app"]["environment"]
    for name in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS"):
        assert environment[name].startswith(f"${{{name}:?")
    assert "${POSTGRES_PASSWORD:?" in environment["DATABASE_URL"]


# --- the documentation ----------------------------------------------------------------------------


def test_every_variable_compose_reads_is_documented():
    referenced = set(_REFERENCE.findall((ROOT / "compose.yaml").read_text()))
    missing = sorted(name for name, *_ in referenced if f"`{name}`" not in DEPLOY_DOC)
    assert not missing, f"compose.yaml reads variables docs/deploy.md does not name: {missing}"


def test_every_setting_read_from_the_environment_is_documented_in_deploy_md():
    missing = sorted(name for name in _settings_variables() if f"`{name}`" not in DEPLOY_DOC)
    assert not missing, f"docs/deploy.md does not document: {missing}"


def test_every_setting_read_from_the_environment_is_listed_in_env_example():
    listed = set(re.findall(r"^# ?([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    missing = sorted(_settings_variables() - listed)
    assert not missing, f".env.example does not list: {missing}"


def test_every_beat_entry_is_documented_with_its_task():
    from django.conf import settings

    for entry, spec in settings.CELERY_BEAT_SCHEDULE.items():
        assert f"`{entry}`" in DEPLOY_DOC
        assert f"`{spec['task']}`" in DEPLOY_DOC


# --- the production settings ----------------------------------------------------------------------


def _manage(*argv: str, env: dict[str, str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": "/usr/bin:/bin", "DATA_DIR": str(data_dir), **env}
    return subprocess.run([sys.executable, "manage.py", *argv], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_production_settings_start_with_the_documented_variables_and_check_deploy_is_clean(
    tmp_path,
):
    result = _manage("check", "--deploy", "--fail-level", "WARNING",
                     env=_app_environment(), data_dir=tmp_path)  # fmt: skip
    warnings = re.findall(r"\(([\w.]+)\)", result.stderr)
    assert result.returncode == 0, f"check --deploy found {sorted(set(warnings))}:\n{result.stderr}"


@pytest.mark.parametrize("variable", ["FIELD_ENCRYPTION_KEYS"])
def test_production_settings_refuse_to_start_without_a_required_variable(variable, tmp_path):
    environment = {name: value for name, value in _app_environment().items() if name != variable}
    result = _manage("check", env=environment, data_dir=tmp_path)
    assert result.returncode != 0
    assert f"{variable} is required when DJANGO_ENV=production" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("EXECUTION_LEASE_S", "0", "EXECUTION_LEASE_S must be at least 1, got 0.0"),
        ("EXECUTION_SWEEP_INTERVAL_S", "-5", "EXECUTION_SWEEP_INTERVAL_S must be at least 0.1"),
        ("EXECUTION_LEASE_S", "nan", "EXECUTION_LEASE_S must be at least 1"),
        ("ORCHESTRATION_POOL_SIZE", "65", "ORCHESTRATION_POOL_SIZE must be at most 64, got 65"),
        ("EXECUTION_MAX_DELIVERIES", "0", "EXECUTION_MAX_DELIVERIES must be at least 1, got 0"),
    ],
)
def test_a_timing_out_of_range_refuses_to_start_and_says_which_range(
    variable, value, message, tmp_path
):
    result = _manage("check", env={variable: value}, data_dir=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.parametrize(
    ("env", "warned"),
    [
        ({"WEB_CONCURRENCY": "4"}, True),
        ({"WEB_CONCURRENCY": "1"}, False),
        ({"WEB_CONCURRENCY": "4", "CACHE_URL": "redis://127.0.0.1:6379/1"}, False),
    ],
)
def test_throttles_on_a_per_process_cache_with_several_web_processes_are_warned(
    env, warned, tmp_path
):
    result = _manage("check", env=env, data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert ("core.W001" in result.stderr + result.stdout) is warned


def test_production_without_a_shared_cache_fails_check_deploy_on_the_throttles(tmp_path):
    environment = {k: v for k, v in _app_environment().items() if k != "CACHE_URL"}
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=environment,
                     data_dir=tmp_path)  # fmt: skip
    assert result.returncode != 0
    assert "core.W001" in result.stderr

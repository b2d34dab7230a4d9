# The production image: web (gunicorn), Celery workers and Celery Beat all run from it; compose.yaml
# starts each with its own command. docs/deploy.md explains the processes and the variables.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=config.settings \
    DJANGO_ENV=production \
    DATA_DIR=/app/var

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

COPY . .
# Every process imports the project from /app (PYTHONPATH), where manage.py, the templates and the
# apps' static files are; installing the package as well checks that it builds. Static files are collected into the image with throwaway secrets: the
# real ones come from the environment at run time.
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin app \
    && mkdir -p /app/var \
    && SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
       FIELD_ENCRYPTION_KEYS="$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
       ALLOWED_HOSTS=localhost python manage.py collectstatic --noinput --verbosity 0 \
    && chown -R app:app /app/var

USER app
EXPOSE 8000

CMD ["gunicorn", "config.wsgi:application", "--bind=0.0.0.0:8000", "--workers=3", \
     "--worker-class=gthread", "--threads=4", "--access-logfile=-", "--error-logfile=-", \
     "--no-control-socket"]

"""Signed-in browser-like clients for the dashboard pages."""

import pytest
from django.test import Client


@pytest.fixture
def staff_client(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


@pytest.fixture
def plain_client(plain_user) -> Client:
    client = Client()
    client.force_login(plain_user)
    return client


@pytest.fixture(autouse=True)
def quick_worker_ping(settings):
    """System health pings the workers and waits out the timeout when none answers (there is no
    worker in these tests): keep that wait short."""
    settings.ANALYTICS_WORKER_PING_TIMEOUT_S = 0.05

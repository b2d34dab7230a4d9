"""Version numbers under concurrent snapshot requests (the row lock; run on PostgreSQL in CI)."""

import threading

import pytest
from django.db import connections
from rest_framework.test import APIClient

from versioning.models import ContentVersion
from versioning.services import article_create
from workflows.services.tokens import api_token_create

BASE = "/api/workflow-orchestration"
REQUESTS = 20


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_snapshot_requests_get_version_numbers_1_to_20_exactly_once(
    staff_user,
):
    article = article_create(data={"title": "Contended", "content": "text"}).article
    ContentVersion.objects.all().delete()  # start the count at 1 for the snapshots themselves
    _, token = api_token_create(user=staff_user)
    start = threading.Barrier(REQUESTS)
    statuses: list[int] = []
    numbers: list[int] = []

    def snapshot(index: int) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        try:
            start.wait(timeout=30)
            response = client.post(
                f"{BASE}/versions",
                {"article_id": article.pk, "change_description": f"request {index}"},
                format="json",
            )
            statuses.append(response.status_code)
            if response.status_code == 201:
                numbers.append(response.json()["version_number"])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=snapshot, args=(i,)) for i in range(REQUESTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert statuses == [201] * REQUESTS
    assert sorted(numbers) == list(range(1, REQUESTS + 1))
    stored = ContentVersion.objects.filter(article=article).values_list("version_number", flat=True)
    assert sorted(stored) == list(range(1, REQUESTS + 1))

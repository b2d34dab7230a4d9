"""Scraping /metrics and reading what it says."""

from collections.abc import Iterator

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from analytics.metrics import present


class Scrape:
    """The samples of one scrape, summed over the labels a question names."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples: list[Sample] = [
            sample for family in text_string_to_metric_families(text) for sample in family.samples
        ]

    def value(self, name: str, **labels: str) -> float:
        matching = [
            sample.value
            for sample in self.samples
            if sample.name == name
            and all(sample.labels.get(key) == wanted for key, wanted in labels.items())
        ]
        assert matching, f"no sample {name} {labels} in:\n{self.text}"
        return sum(matching)

    def labels(self, name: str, label: str) -> set[str]:
        return {sample.labels[label] for sample in self.samples if sample.name == name}


def scrape(client: Client, **headers: str) -> Scrape:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return Scrape(response.content.decode())


@pytest.fixture(autouse=True)
def quick_worker_count(monkeypatch) -> Iterator[None]:
    """No worker answers in most tests: don't wait a whole second for replies that never come."""
    monkeypatch.setattr(present, "WORKERS_INSPECT_TIMEOUT_S", 0.05)
    present.live_workers.forget()
    yield
    present.live_workers.forget()


@pytest.fixture
def staff_client(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client

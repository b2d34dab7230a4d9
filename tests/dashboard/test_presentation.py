"""The chart's geometry, the side-by-side diff rows, the form error lines, and the page markup
rules (no inline script, labelled fields, one h1)."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from dashboard.chart import hourly_chart
from dashboard.diffs import side_by_side, unified_lines
from dashboard.forms import error_lines
from tests.dashboard.data import (
    dashboard_data_seed,
    execution_waiting_for_approval,
    workflow_with_three_revisions,
)


def buckets(counts):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        {"start": start + timedelta(hours=i), "completed": ok, "failed": bad}
        for i, (ok, bad) in enumerate(counts)
    ]


def test_the_busiest_hour_reaches_the_top_of_a_round_scale():
    chart = hourly_chart(buckets([(0, 0)] * 22 + [(7, 0), (2, 3)]))
    assert [tick.text for tick in chart.y_ticks] == ["0", "5", "10"]
    tallest = max(chart.succeeded, key=lambda bar: bar.height)
    assert tallest.count == 7 and tallest.label == "22:00: 7 succeeded"
    assert tallest.height == pytest.approx(0.7 * (chart.baseline - 10), abs=0.01)
    assert (chart.total_succeeded, chart.total_failed) == (9, 3)


def test_an_empty_day_draws_flat_bars_on_a_scale_of_one():
    chart = hourly_chart(buckets([(0, 0)] * 24))
    assert all(bar.height == 0 for bar in chart.succeeded + chart.failed)
    assert [tick.text for tick in chart.y_ticks] == ["0", "1"]
    assert len(chart.x_ticks) == 8


def test_side_by_side_pairs_changed_lines_and_pads_added_ones():
    rows = side_by_side(["a", "b", "c"], ["a", "B", "c", "d"])
    assert [(r.kind, r.old_text, r.new_text) for r in rows] == [
        ("equal", "a", "a"),
        ("replace", "b", "B"),
        ("equal", "c", "c"),
        ("insert", None, "d"),
    ]
    assert rows[-1].new_number == 4 and rows[-1].old_number is None


def test_unified_lines_are_classified():
    kinds = [line.kind for line in unified_lines("--- v1\n+++ v2\n@@ -1 +1 @@\n-a\n+b\n c")]
    assert kinds == ["header", "header", "hunk", "remove", "add", "context"]


def test_nested_errors_read_as_paths_with_actions_counted_from_one():
    detail = {"0": {"params": {"url": ["Enter a valid URL."]}}, "2": {"id": ["Duplicate."]}}
    assert error_lines(detail, ["actions"]) == [
        "action 1 › params › url: Enter a valid URL.",
        "action 3 › id: Duplicate.",
    ]
    assert error_lines(["Required."], ["schedule"]) == ["Required."]


STAFF_PAGES = [
    "/dashboard/",
    "/dashboard/workflows/new/",
    "/dashboard/executions/",
    "/dashboard/alerts/",
    "/dashboard/alerts/new/",
    "/dashboard/connections/new/",
    "/dashboard/no-such-page/",
    "/dashboard/versions/",
    "/dashboard/orchestrations/",
]


@pytest.mark.parametrize("url", STAFF_PAGES)
def test_pages_have_no_inline_script_one_h1_and_a_label_for_every_field(staff_client, url):
    page = staff_client.get(url).content.decode()
    for script in re.findall(r"<script\b[^>]*>", page):
        assert "src=" in script, f"inline script: {script}"
    assert not re.search(r"\son[a-z]+=", page), "inline event handler"
    assert page.count("<h1") == 1
    labels = set(re.findall(r'<label for="([^"]+)"', page))
    for field_id in re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', page):
        assert field_id in labels, f"no label for #{field_id}"
    for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", page):
        if 'type="hidden"' not in tag:
            assert 'id="' in tag, f"unlabelled control {tag}"


def test_detail_pages_follow_the_same_rules(staff_client, staff_user):
    seeded = dashboard_data_seed(staff_user)
    urls = [
        f"/dashboard/workflows/{seeded.workflow.pk}/",
        f"/dashboard/workflows/{seeded.workflow.pk}/run/",
        f"/dashboard/executions/{seeded.objects['failed'].pk}/",
        f"/dashboard/alerts/{seeded.objects['alert'].pk}/",
        f"/dashboard/versions/{seeded.article.pk}/",
        f"/dashboard/versions/{seeded.article.pk}/revert/1/",
        f"/dashboard/orchestrations/{seeded.objects['orchestration'].pk}/",
    ]
    for url in urls:
        page = staff_client.get(url).content.decode()
        assert page.count("<h1") == 1, url
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), url


def test_the_approval_dry_run_and_revision_pages_follow_the_same_rules(staff_client, staff_user):
    workflow = workflow_with_three_revisions(staff_user)
    execution = execution_waiting_for_approval()
    urls = [
        f"/dashboard/executions/{execution.pk}/",
        f"/dashboard/workflows/{workflow.pk}/",
        f"/dashboard/workflows/{workflow.pk}/dry-run/",
        f"/dashboard/workflows/{workflow.pk}/revisions/",
        f"/dashboard/workflows/{workflow.pk}/revisions/1/restore/",
    ]
    for url in urls:
        page = staff_client.get(url).content.decode()
        assert page.count("<h1") == 1, url
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), url
        assert not re.search(r"\son[a-z]+=", page), f"inline event handler on {url}"
        labels = set(re.findall(r'<label for="([^"]+)"', page))
        for field_id in re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', page):
            assert field_id in labels, f"no label for #{field_id} on {url}"
        for form in re.findall(r'<form method="post".*?</form>', page, re.S):
            assert "csrfmiddlewaretoken" in form, url

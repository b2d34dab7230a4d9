"""The Versions tab: articles, their history, a diff between any two versions (side by side or
unified), and revert with the diff shown before it is confirmed."""

from tests.dashboard.data import article_with_three_versions
from versioning.models import ContentVersion
from versioning.selectors import version_compare


def test_the_list_shows_each_article_with_its_number_of_versions(staff_client, staff_user):
    article_with_three_versions(staff_user)
    page = staff_client.get("/dashboard/versions/").content.decode()
    assert "Launch notes, revised" in page and "<td>3</td>" in page


def test_the_history_lists_every_version_newest_first(staff_client, staff_user):
    article = article_with_three_versions(staff_user)
    response = staff_client.get(f"/dashboard/versions/{article.pk}/")
    assert [v.version_number for v in response.context["versions"]] == [3, 2, 1]
    page = response.content.decode()
    assert "Revert to v1…" in page and "Revert to v3" not in page


def test_by_default_the_latest_version_is_compared_with_the_one_before(staff_client, staff_user):
    article = article_with_three_versions(staff_user)
    comparison = staff_client.get(f"/dashboard/versions/{article.pk}/").context["comparison"]
    assert (comparison.old.version_number, comparison.new.version_number) == (2, 3)


def test_any_two_versions_can_be_compared_side_by_side(staff_client, staff_user):
    article = article_with_three_versions(staff_user)
    response = staff_client.get(
        f"/dashboard/versions/{article.pk}/?from_version=1&to_version=3&mode=split"
    )
    rows = response.context["rows"]
    changed = [(row.old_text, row.new_text) for row in rows if row.kind == "replace"]
    assert ("title: Launch notes", "title: Launch notes, revised") in changed
    assert ("Second line.", "A brand new second line.") in changed
    assert 'class="diff-split"' in response.content.decode()


def test_the_unified_diff_marks_added_and_removed_lines(staff_client, staff_user):
    article = article_with_three_versions(staff_user)
    page = staff_client.get(
        f"/dashboard/versions/{article.pk}/?from_version=3&to_version=1&mode=unified"
    ).content.decode()
    assert '<span class="diff-remove">-A brand new second line.</span>' in page
    assert '<span class="diff-add">+Second line.</span>' in page
    assert '<span class="diff-header">--- v3</span>' in page


def test_comparing_a_version_that_does_not_exist_is_a_404(staff_client, staff_user):
    article = article_with_three_versions(staff_user)
    response = staff_client.get(f"/dashboard/versions/{article.pk}/?from_version=1&to_version=9")
    assert response.status_code == 404


def test_version_compare_diffs_any_two_snapshots(staff_user):
    article = article_with_three_versions(staff_user)
    comparison = version_compare(article=article, from_number=1, to_number=3)
    assert (comparison.added, comparison.removed) == (2, 2)
    assert comparison.unified.startswith("--- v1\n+++ v3")
    same = version_compare(article=article, from_number=2, to_number=2)
    assert (same.added, same.removed, same.unified) == (0, 0, "")


def test_revert_shows_the_diff_first_and_changes_nothing_until_confirmed(staff_client, staff_user):
    article = article_with_three_versions(staff_user)
    response = staff_client.get(f"/dashboard/versions/{article.pk}/revert/1/")
    page = response.content.decode()
    assert "Revert “Launch notes, revised” to version 1?" in page
    assert "A brand new second line." in page and "Second line." in page
    assert ContentVersion.objects.filter(article=article).count() == 3


def test_a_confirmed_revert_restores_the_snapshot_as_a_new_version(staff_client, staff_user):
    article = article_with_three_versions(staff_user)
    response = staff_client.post(f"/dashboard/versions/{article.pk}/revert/1/", follow=True)
    assert "reverted to version 1 (recorded as version 4)" in response.content.decode()
    article.refresh_from_db()
    assert article.title == "Launch notes"
    latest = ContentVersion.objects.get(article=article, version_number=4)
    assert (latest.change_type, latest.changed_by) == ("revert", staff_user)
    assert ContentVersion.objects.filter(article=article).count() == 4


def test_reverting_to_a_missing_version_is_a_404(staff_client, staff_user):
    article = article_with_three_versions(staff_user)
    assert staff_client.post(f"/dashboard/versions/{article.pk}/revert/7/").status_code == 404

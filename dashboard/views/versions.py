"""The Versions tab: articles, each one's history, a diff between any two of its versions (side by
side or unified), and revert with the diff shown before it is confirmed."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from dashboard import selectors
from dashboard.diffs import DiffView, side_by_side, unified_lines
from dashboard.forms import CompareForm
from dashboard.views.access import staff_required
from dashboard.views.common import paginate
from versioning.models import Article, ContentVersion
from versioning.selectors import version_compare
from versioning.services import ArticleConflict, version_revert

TAB = {"tab": "versions"}


def _comparison(article: Article, old: int, new: int) -> dict[str, object]:
    """The diff from version ``old`` to ``new``, as side-by-side rows and unified lines."""
    try:
        comparison = version_compare(article=article, from_number=old, to_number=new)
    except ContentVersion.DoesNotExist as exc:
        raise Http404(str(exc)) from None
    rows = side_by_side(comparison.old_lines, comparison.new_lines)
    unified = unified_lines(comparison.unified)
    diff = DiffView(
        old_label=f"version {comparison.old.version_number}",
        new_label=f"version {comparison.new.version_number}",
        added=comparison.added,
        removed=comparison.removed,
        rows=rows,
        unified=unified,
    )
    return {"comparison": comparison, "rows": rows, "unified": unified, "diff": diff}


@staff_required
def article_list(request: HttpRequest) -> HttpResponse:
    page = paginate(request, selectors.articles_page())
    return render(request, "dashboard/versions/list.html", {**TAB, "page": page})


@staff_required
def article_detail(request: HttpRequest, article_id: int) -> HttpResponse:
    """The history, and the diff the compare form asks for (by default: the latest version
    against the one before it)."""
    article = selectors.article_get(article_id=article_id)
    versions = list(selectors.versions_of(article=article))
    latest = versions[0].version_number if versions else 1
    default = {"from_version": max(latest - 1, 1), "to_version": latest, "mode": "split"}
    form = CompareForm(request.GET if "from_version" in request.GET else default)
    context: dict[str, object] = {**TAB, "article": article, "versions": versions, "form": form}
    if versions and form.is_valid():
        data = form.cleaned_data
        context.update(_comparison(article, data["from_version"], data["to_version"]))
        context["mode"] = data["mode"]
    return render(request, "dashboard/versions/detail.html", context)


@staff_required
def version_revert_confirm(
    request: HttpRequest, article_id: int, version_number: int
) -> HttpResponse:
    """GET: what reverting would change (the latest version against the target). POST: revert,
    recording a new version."""
    article = selectors.article_get(article_id=article_id)
    version = selectors.version_get(article=article, version_number=version_number)
    if request.method == "POST":
        try:
            change = version_revert(version=version, user=request.user)
        except ArticleConflict as exc:
            messages.error(request, str(exc))
        else:
            recorded = change.version.version_number if change.version else "—"
            messages.success(
                request,
                f"“{change.article.title}” reverted to version {version_number} "
                f"(recorded as version {recorded}).",
            )
        return redirect("dashboard:article-detail", article.pk)
    latest = article.current_version or version_number  # type: ignore[attr-defined]
    context = {
        **TAB,
        "article": article,
        "version": version,
        "latest": latest,
        "mode": "split",
        **_comparison(article, latest, version_number),
    }
    return render(request, "dashboard/versions/revert.html", context)

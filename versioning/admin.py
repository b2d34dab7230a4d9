"""Articles with their versions inline; versions with their diff and a revert action. Saves,
deletes and reverts go through the services, so admin edits are versioned and publishing here
fires the publish trigger like any other path."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from versioning.models import Article, ContentVersion
from versioning.services import (
    EDITABLE_FIELDS,
    ArticleConflict,
    article_create,
    article_delete,
    article_publish,
    article_update,
    version_revert,
)


def diff_html(version: ContentVersion) -> str:
    unified = (version.diff_data or {}).get("unified") or "(no changes)"
    return format_html('<pre style="white-space: pre-wrap">{}</pre>', unified)


class ContentVersionInline(admin.TabularInline):
    model = ContentVersion
    extra = 0
    can_delete = False
    ordering = ["-version_number"]
    fields = readonly_fields = (
        "version_link",
        "change_type",
        "change_description",
        "changed_by",
        "diff_stats",
        "git_commit_hash",
        "created_at",
    )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Version")
    def version_link(self, version: ContentVersion) -> str:
        url = reverse("admin:versioning_contentversion_change", args=[version.pk])
        return format_html('<a href="{}">v{}</a>', url, version.version_number)

    @admin.display(description="Lines")
    def diff_stats(self, version: ContentVersion) -> str:
        return f"+{version.lines_added} -{version.lines_removed}"


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "status", "author", "published_at", "updated_at"]
    list_filter = ["status", "published_at"]
    list_select_related = ["author"]
    search_fields = ["title", "slug", "excerpt", "content"]
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = ["published_at", "created_at", "updated_at"]
    inlines = [ContentVersionInline]
    actions = ["publish"]

    def save_model(self, request: HttpRequest, obj: Article, form: ModelForm, change: bool) -> None:
        data = {key: form.cleaned_data[key] for key in EDITABLE_FIELDS if key in form.cleaned_data}
        try:
            if change:
                saved = article_update(
                    article=Article.objects.get(pk=obj.pk), data=data, user=request.user
                ).article
            else:
                saved = article_create(data=data, user=request.user).article
        except ArticleConflict as exc:
            # The form's own unique check normally catches this first; a race can still lose.
            self.message_user(request, str(exc), level=messages.ERROR)
            return
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request: HttpRequest, obj: Article) -> None:
        article_delete(article=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Article]) -> None:
        for article in queryset:
            article_delete(article=article)

    @admin.action(description="Publish")
    def publish(self, request: HttpRequest, queryset: QuerySet[Article]) -> None:
        for article in queryset:
            result = article_publish(article=article, user=request.user)
            if result.already_published:
                self.message_user(request, f"'{article.title}' was already published.")
            else:
                self.message_user(
                    request,
                    f"Published '{article.title}' (version {result.version_number}); "
                    f"started {len(result.execution_ids)} workflows.",
                )


@admin.register(ContentVersion)
class ContentVersionAdmin(admin.ModelAdmin):
    list_display = [
        "article",
        "version_number",
        "change_type",
        "changed_by",
        "git_commit_hash",
        "created_at",
    ]
    list_filter = ["change_type", "created_at"]
    list_select_related = ["article", "changed_by"]
    search_fields = ["article__title", "change_description", "git_commit_hash"]
    fields = readonly_fields = (
        "article",
        "version_number",
        "change_type",
        "change_description",
        "changed_by",
        "git_commit_hash",
        "created_at",
        "content_snapshot",
        "diff",
    )
    actions = ["revert"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # History is never rewritten.
        return False

    @admin.display(description="Diff against the previous version")
    def diff(self, version: ContentVersion) -> str:
        return diff_html(version)

    @admin.action(description="Revert to this version")
    def revert(self, request: HttpRequest, queryset: QuerySet[ContentVersion]) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to revert to.", messages.ERROR)
            return
        version = queryset.select_related("article").get()
        try:
            change = version_revert(version=version, user=request.user)
        except ArticleConflict as exc:
            self.message_user(request, str(exc), level=messages.ERROR)
            return
        assert change.version is not None
        self.message_user(
            request,
            f"'{version.article.title}' reverted to version {version.version_number} "
            f"(recorded as version {change.version.version_number}).",
        )

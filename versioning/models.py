"""Articles and their version history."""

from django.conf import settings
from django.db import models


class ArticleStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    ARCHIVED = "archived", "Archived"


# The fields a version snapshots, a revert restores and an update compares.
SNAPSHOT_FIELDS = ("title", "slug", "content", "excerpt", "meta_description", "status")


class Article(models.Model):
    title = models.CharField(max_length=300)
    slug = models.SlugField(max_length=200, unique=True)
    content = models.TextField(blank=True, default="")
    excerpt = models.TextField(blank=True, default="")
    meta_description = models.CharField(max_length=320, blank=True, default="")
    status = models.CharField(
        max_length=16, choices=ArticleStatus.choices, default=ArticleStatus.DRAFT
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="articles",
    )
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "-published_at"], name="article_status_published")
        ]

    def __str__(self) -> str:
        return self.title

    def snapshot(self) -> dict[str, str]:
        """The article's versioned fields, as a ContentVersion stores them."""
        return {name: getattr(self, name) for name in SNAPSHOT_FIELDS}


class ChangeType(models.TextChoices):
    CREATE = "create", "Created"
    UPDATE = "update", "Updated"
    PUBLISH = "publish", "Published"
    OPTIMIZE = "optimize", "Optimized"
    REVERT = "revert", "Reverted"
    MANUAL = "manual", "Manual snapshot"


class ContentVersion(models.Model):
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="versions")
    # 1, 2, 3… per article; the constraint below backs the row lock that numbers them.
    version_number = models.PositiveIntegerField()
    content_snapshot = models.JSONField(default=dict)
    change_description = models.TextField(blank=True, default="")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    change_type = models.CharField(max_length=16, choices=ChangeType.choices)
    git_commit_hash = models.CharField(max_length=64, blank=True, default="")
    # {"unified": "<diff against the previous version>", "added": n, "removed": n}
    diff_data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["article_id", "-version_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["article", "version_number"], name="version_number_unique_per_article"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.article_id} v{self.version_number} ({self.change_type})"

    @property
    def lines_added(self) -> int:
        return int(self.diff_data.get("added", 0))

    @property
    def lines_removed(self) -> int:
        return int(self.diff_data.get("removed", 0))

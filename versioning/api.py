"""Articles and versions endpoints. Views parse and authorise; services do the work."""

import re
from typing import Any

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.validators import UniqueValidator

from core.strict import StrictFieldsMixin, StrictSerializer, no_parameters_check, text_field
from versioning import selectors
from versioning.analysis import word_count
from versioning.models import Article, ArticleStatus, ContentVersion
from versioning.services import (
    ArticleConflict,
    article_create,
    article_delete,
    article_publish,
    article_update,
    version_create,
    version_revert,
)

_NUMBER = re.compile(r"[0-9]{1,18}")


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The change conflicts with the current state."


# --- serializers ---------------------------------------------------------------------------------


class ArticleSerializer(StrictFieldsMixin, serializers.ModelSerializer[Article]):
    status = serializers.ChoiceField(choices=ArticleStatus.choices, required=False)
    slug = serializers.SlugField(
        max_length=200,
        required=False,
        allow_blank=True,
        validators=[UniqueValidator(Article.objects.all(), "Another article has this slug.")],
    )
    author = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.all(), required=False, allow_null=True
    )
    author_username = serializers.SerializerMethodField()
    current_version = serializers.IntegerField(read_only=True, default=None)
    word_count = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Article
        fields = [
            "id",
            "title",
            "slug",
            "content",
            "excerpt",
            "meta_description",
            "status",
            "author",
            "author_username",
            "published_at",
            "created_at",
            "updated_at",
            "current_version",
            "word_count",
            "url",
        ]
        read_only_fields = ["id", "published_at", "created_at", "updated_at"]

    def get_author_username(self, article: Article) -> str | None:
        return article.author.get_username() if article.author else None

    def get_word_count(self, article: Article) -> int:
        return word_count(article.content)

    def get_url(self, article: Article) -> str:
        return selectors.article_url(article)


class PublishResultSerializer(serializers.Serializer):
    article_id = serializers.IntegerField()
    status = serializers.CharField()
    published_at = serializers.DateTimeField()
    version_number = serializers.IntegerField(allow_null=True)
    already_published = serializers.BooleanField()
    execution_ids = serializers.ListField(child=serializers.IntegerField())


class VersionSummarySerializer(serializers.ModelSerializer[ContentVersion]):
    changed_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    added = serializers.IntegerField(read_only=True)
    removed = serializers.IntegerField(read_only=True)

    class Meta:
        model = ContentVersion
        fields = [
            "id",
            "article",
            "version_number",
            "change_type",
            "change_description",
            "changed_by",
            "git_commit_hash",
            "created_at",
            "added",
            "removed",
        ]
        read_only_fields = fields


class VersionDetailSerializer(VersionSummarySerializer):
    added = serializers.IntegerField(source="lines_added", read_only=True)
    removed = serializers.IntegerField(source="lines_removed", read_only=True)

    class Meta(VersionSummarySerializer.Meta):
        fields = [*VersionSummarySerializer.Meta.fields, "content_snapshot", "diff_data"]
        read_only_fields = fields


class VersionCreateSerializer(StrictSerializer):
    article_id = serializers.IntegerField(min_value=1)
    change_description = text_field(required=False, allow_blank=True, default="", max_length=2000)

    def validate_article_id(self, article_id: int) -> int:
        if not Article.objects.filter(pk=article_id).exists():
            raise serializers.ValidationError(f"Article {article_id} does not exist.")
        return article_id


class VersionRevertSerializer(StrictSerializer):
    version_number = serializers.IntegerField(min_value=1)


# --- views ---------------------------------------------------------------------------------------


class ArticleFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ArticleStatus.choices)

    class Meta:
        model = Article
        fields = ["status", "author"]


_SLUG_TAKEN = OpenApiResponse(description="Another article already has the slug.")


@extend_schema_view(
    create=extend_schema(responses={201: ArticleSerializer, 409: _SLUG_TAKEN}),
    update=extend_schema(responses={200: ArticleSerializer, 409: _SLUG_TAKEN}),
    partial_update=extend_schema(responses={200: ArticleSerializer, 409: _SLUG_TAKEN}),
)
class ArticleViewSet(viewsets.ModelViewSet):
    serializer_class = ArticleSerializer
    filterset_class = ArticleFilter
    search_fields = ["title", "slug", "excerpt", "content"]
    ordering_fields = ["id", "title", "created_at", "updated_at", "published_at"]

    def get_queryset(self) -> QuerySet[Article]:
        return selectors.article_list()

    def _reload(self, article: Article) -> Article:
        return selectors.article_list().get(pk=article.pk)

    def perform_create(self, serializer: BaseSerializer[Article]) -> None:
        try:
            change = article_create(data=serializer.validated_data, user=self.request.user)
        except ArticleConflict as exc:
            raise Conflict(str(exc)) from None
        serializer.instance = self._reload(change.article)

    def perform_update(self, serializer: BaseSerializer[Article]) -> None:
        assert serializer.instance is not None
        try:
            change = article_update(
                article=serializer.instance,
                data=serializer.validated_data,
                user=self.request.user,
            )
        except ArticleConflict as exc:
            raise Conflict(str(exc)) from None
        serializer.instance = self._reload(change.article)

    def perform_destroy(self, instance: Article) -> None:
        article_delete(article=instance)

    @extend_schema(request=None, responses=PublishResultSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request: Request, pk: str | None = None) -> Response:
        """Publish an article."""
        no_parameters_check(request)
        result = article_publish(article=self.get_object(), user=request.user)
        data = {
            "article_id": result.article.pk,
            "status": result.article.status,
            "published_at": result.article.published_at,
            "version_number": result.version_number,
            "already_published": result.already_published,
            "execution_ids": result.execution_ids,
        }
        return Response(PublishResultSerializer(data).data)


def _number(text: str) -> int | None:
    """A path segment as a positive integer, or None (then nothing can match it)."""
    return int(text) if _NUMBER.fullmatch(text) else None


def _article_or_404(article_id: str) -> Article:
    pk = _number(article_id)
    article = Article.objects.filter(pk=pk).first() if pk is not None else None
    if article is None:
        raise NotFound(f"Article {article_id} not found.")
    return article


class VersionViewSet(viewsets.GenericViewSet):
    """``versions`` (POST snapshot), ``versions/{article_id}`` (history, newest first),
    ``versions/{article_id}/{version_number}`` and ``versions/{article_id}/revert``; the routes
    are spelled out in ``config/api.py``."""

    queryset = ContentVersion.objects.none()
    serializer_class = VersionDetailSerializer

    @extend_schema(request=VersionCreateSerializer, responses={201: VersionDetailSerializer})
    def create(self, request: Request) -> Response:
        """Record a version of an article as it is now."""
        given = VersionCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        article = Article.objects.get(pk=given.validated_data["article_id"])
        version = version_create(
            article=article,
            user=request.user,
            description=given.validated_data["change_description"],
        )
        return Response(VersionDetailSerializer(version).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=VersionSummarySerializer(many=True))
    def history(self, request: Request, article_id: str) -> Response:
        """List an article's versions, newest first."""
        versions = selectors.version_history(article=_article_or_404(article_id))
        page = self.paginate_queryset(versions)
        data = VersionSummarySerializer(page if page is not None else versions, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    @extend_schema(responses=VersionDetailSerializer)
    def retrieve(self, request: Request, article_id: str, version_number: str) -> Response:
        """Get one version of an article."""
        return Response(VersionDetailSerializer(self._version(article_id, version_number)).data)

    @extend_schema(
        request=VersionRevertSerializer,
        responses={201: VersionDetailSerializer, 404: OpenApiResponse(), 409: OpenApiResponse()},
    )
    def revert(self, request: Request, article_id: str) -> Response:
        """Revert an article to one of its versions."""
        article = _article_or_404(article_id)
        given = VersionRevertSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        version = self._version(str(article.pk), str(given.validated_data["version_number"]))
        try:
            change = version_revert(version=version, user=request.user)
        except ArticleConflict as exc:
            raise Conflict(str(exc)) from None
        return Response(VersionDetailSerializer(change.version).data, status=201)

    def _version(self, article_id: str, version_number: str) -> ContentVersion:
        article = _article_or_404(article_id)
        number = _number(version_number)
        version = (
            ContentVersion.objects.select_related("article", "changed_by")
            .filter(article=article, version_number=number)
            .first()
            if number is not None
            else None
        )
        if version is None:
            raise NotFound(f"Article {article.pk} has no version {version_number}.")
        return version

"""An article as a Markdown file with YAML front matter, the default content of ``git_commit``.

The text depends only on the article's published fields (never on ``updated_at``), so committing
an unchanged article produces identical content and the commit is skipped.
"""

import json
from typing import Any

from versioning.models import Article


def _yaml_scalar(value: Any) -> str:
    # A JSON string is a valid YAML double-quoted scalar, so quoting and escaping need no library.
    return "null" if value is None else json.dumps(value, ensure_ascii=False)


def article_markdown(article: Article) -> str:
    front_matter = {
        "title": article.title,
        "slug": article.slug,
        "status": article.status,
        "author": article.author.get_username() if article.author else None,
        "published_at": article.published_at.isoformat() if article.published_at else None,
        "excerpt": article.excerpt,
        "meta_description": article.meta_description,
    }
    lines = ["---", *(f"{key}: {_yaml_scalar(value)}" for key, value in front_matter.items())]
    lines += ["---", "", article.content.rstrip("\n"), ""]
    return "\n".join(lines)


def article_path(article: Article) -> str:
    """Where an article's file goes when ``git_commit`` is given no ``path``."""
    return f"articles/{article.slug}.md"

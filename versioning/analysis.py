"""Text analysis for the ``optimize`` action: counts, readability and SEO checks. No I/O.

Heuristics, chosen to be simple enough to check by hand:

- **Text**: HTML tags and Markdown link targets (``](url)``) are removed before counting.
- **Words**: runs of letters or digits, which may be joined by an apostrophe or hyphen
  (``don't``, ``well-known`` are one word each; the typographic apostrophe too).
- **Sentences**: pieces of text ended by ``.``, ``!`` or ``?`` (followed by a space or the end) or
  by a blank line (so a heading is a sentence); pieces with no words do not count.
- **Syllables** of a word: its letters lower-cased (a word without letters, such as a number, has
  one); count the groups of consecutive vowels (a, e, i, o, u, y); a final ``e`` is silent (one
  fewer) unless it ends ``le`` after a consonant (``table``) or it is the word's only vowel group
  (``the``); every word has at least one.
- **Flesch reading ease**: 206.835 - 1.015 * words/sentences - 84.6 * syllables/words.
- **Reading time**: words at 200 per minute, rounded up to whole minutes.
- **Keyword density**: case-insensitive whole-phrase occurrences of the keyword / words * 100.
"""

import math
import re
from dataclasses import dataclass, field
from typing import Any

from django.utils.text import slugify

WORDS_PER_MINUTE = 200
TITLE_RANGE = (30, 60)
META_DESCRIPTION_RANGE = (120, 160)
MIN_WORDS = 300
HARD_TO_READ_BELOW = 50.0
KEYWORD_DENSITY_RANGE = (0.5, 2.5)
SLUG_MAX_CHARS = 60

_TAG = re.compile(r"<[^>]+>")
_LINK_TARGET = re.compile(r"\]\([^)]*\)")
_WORD = re.compile(r"[^\W_]+(?:['\u2019-][^\W_]+)*")
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)|\n\s*\n")
_VOWEL_GROUP = re.compile(r"[aeiouy]+")


def plain_text(text: str) -> str:
    return _LINK_TARGET.sub("]", _TAG.sub(" ", text))


def words(text: str) -> list[str]:
    return _WORD.findall(plain_text(text))


def word_count(text: str) -> int:
    return len(words(text))


def sentence_count(text: str) -> int:
    pieces = _SENTENCE_END.split(plain_text(text))
    return sum(1 for piece in pieces if _WORD.search(piece))


def syllable_count(word: str) -> int:
    letters = re.sub(r"[^a-z]", "", word.lower())
    if not letters:
        return 1
    groups = len(_VOWEL_GROUP.findall(letters))
    silent_e = (
        letters.endswith("e")
        and groups > 1
        and not (letters.endswith("le") and len(letters) > 2 and letters[-3] not in "aeiouy")
    )
    return max(1, groups - int(silent_e))


def flesch_reading_ease(text: str) -> float | None:
    """None for a text without words."""
    found = words(text)
    if not found:
        return None
    sentences = max(1, sentence_count(text))
    syllables = sum(syllable_count(word) for word in found)
    score = 206.835 - 1.015 * len(found) / sentences - 84.6 * syllables / len(found)
    return round(score, 2)


def reading_time_minutes(count: int) -> int:
    return math.ceil(count / WORDS_PER_MINUTE)


def keyword_density(text: str, keyword: str) -> float | None:
    """Percent of the text's words that start an occurrence of ``keyword``; None without one."""
    phrase = [word.lower() for word in words(keyword)]
    found = [word.lower() for word in words(text)]
    if not phrase or not found:
        return None
    size = len(phrase)
    hits = sum(1 for start in range(len(found) - size + 1) if found[start : start + size] == phrase)
    return round(hits / len(found) * 100, 2)


def slug_suggest(title: str) -> str:
    """The title as a slug, cut at a hyphen to at most SLUG_MAX_CHARS characters."""
    slug = slugify(title)
    if len(slug) > SLUG_MAX_CHARS:
        slug = slug[: SLUG_MAX_CHARS + 1].rsplit("-", 1)[0]
    return slug[:SLUG_MAX_CHARS]


def meta_description_suggest(current: str, excerpt: str, content: str) -> str:
    """Keep a description of good length; else the excerpt or content, cut at a word."""
    low, high = META_DESCRIPTION_RANGE
    if low <= len(current) <= high:
        return current
    source = " ".join(plain_text(excerpt or content).split())
    source = re.sub(r"[#*_`>]+", "", source).strip()
    if len(source) <= high:
        return source
    return source[: high - 4].rsplit(" ", 1)[0].rstrip(",;:") + "…"


@dataclass
class Analysis:
    word_count: int
    reading_time_minutes: int
    flesch_reading_ease: float | None
    title_length: int
    meta_description_length: int
    keyword_density: float | None
    suggested_slug: str
    suggested_meta_description: str
    issues: list[str] = field(default_factory=list)

    def as_output(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _length_issue(label: str, length: int, bounds: tuple[int, int]) -> str | None:
    low, high = bounds
    if length == 0:
        return f"The {label} is empty."
    if not low <= length <= high:
        return f"The {label} is {length} characters; {low}-{high} reads best in search results."
    return None


def _keyword_issues(keyword: str, title: str, density: float | None) -> list[str]:
    issues = []
    if keyword.lower() not in title.lower():
        issues.append(f"The title does not contain the keyword '{keyword}'.")
    low, high = KEYWORD_DENSITY_RANGE
    if density is not None and density < low:
        issues.append(f"Keyword density is {density}%; aim for {low}-{high}%.")
    elif density is not None and density > high:
        issues.append(f"Keyword density is {density}%: above {high}% reads as keyword stuffing.")
    return issues


def article_analyse(
    *, title: str, content: str, excerpt: str, meta_description: str, keyword: str = ""
) -> Analysis:
    """Measure the article and list what to improve."""
    count = word_count(content)
    flesch = flesch_reading_ease(content)
    density = keyword_density(content, keyword) if keyword else None
    issues = [
        issue
        for issue in (
            _length_issue("title", len(title), TITLE_RANGE),
            _length_issue("meta description", len(meta_description), META_DESCRIPTION_RANGE),
        )
        if issue
    ]
    if count < MIN_WORDS:
        issues.append(f"The article has {count} words; {MIN_WORDS} or more ranks better.")
    if flesch is not None and flesch < HARD_TO_READ_BELOW:
        issues.append(f"Reading ease is {flesch}: hard to read. Use shorter sentences and words.")
    if keyword:
        issues.extend(_keyword_issues(keyword, title, density))
    return Analysis(
        word_count=count,
        reading_time_minutes=reading_time_minutes(count),
        flesch_reading_ease=flesch,
        title_length=len(title),
        meta_description_length=len(meta_description),
        keyword_density=density,
        suggested_slug=slug_suggest(title),
        suggested_meta_description=meta_description_suggest(meta_description, excerpt, content),
        issues=issues,
    )

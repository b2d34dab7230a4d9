"""The optimize analysis on fixed texts, against values worked out by hand."""

import pytest

from versioning.analysis import (
    article_analyse,
    flesch_reading_ease,
    keyword_density,
    meta_description_suggest,
    reading_time_minutes,
    sentence_count,
    slug_suggest,
    syllable_count,
    word_count,
)

TEXT = "The cat sat on the mat. It was a sunny day! Readability matters."


def test_it_counts_words_sentences_and_flesch_of_a_fixed_text_as_worked_by_hand():
    # Words: The cat sat on the mat | It was a sunny day | Readability matters = 13.
    assert word_count(TEXT) == 13
    assert sentence_count(TEXT) == 3
    # Syllables: nine one-syllable words, sun-ny 2, day 1, rea-da-bi-li-ty 5, mat-ters 2 = 19.
    assert sum(syllable_count(word) for word in TEXT.replace(".", "").split()) == 19
    # 206.835 - 1.015 * 13/3 - 84.6 * 19/13 = 206.835 - 4.398333 - 123.646154 = 78.790513
    assert flesch_reading_ease(TEXT) == 78.79


@pytest.mark.parametrize(
    ("word", "syllables"),
    [("cat", 1), ("the", 1), ("make", 1), ("table", 2), ("sunny", 2), ("you", 1), ("42", 1)],
)
def test_the_syllable_heuristic(word, syllables):
    assert syllable_count(word) == syllables


def test_apostrophes_and_hyphens_join_words_and_markup_is_not_counted():
    assert word_count("Don't stop the well-known <b>show</b> [here](https://example.com/x).") == 6


def test_a_heading_without_punctuation_counts_as_a_sentence():
    assert sentence_count("# Heading\n\nOne sentence. Two sentences") == 3


@pytest.mark.parametrize(("words", "minutes"), [(0, 0), (1, 1), (200, 1), (201, 2), (401, 3)])
def test_reading_time_is_words_at_200_per_minute_rounded_up(words, minutes):
    assert reading_time_minutes(words) == minutes


def test_keyword_density_counts_whole_phrase_occurrences_per_hundred_words():
    text = "Cats like cats. Dogs like cats."
    assert keyword_density(text, "cats") == 50.0
    assert keyword_density(text, "like cats") == 33.33
    assert keyword_density(text, "cat") == 0.0
    assert keyword_density("", "cats") is None


def test_a_text_without_words_has_no_reading_ease():
    assert flesch_reading_ease("...") is None


def test_slug_suggestion_is_cut_at_a_hyphen_within_60_characters():
    slug = slug_suggest("A very long title " * 6)
    assert len(slug) <= 60
    assert not slug.endswith("-")
    assert slug.startswith("a-very-long-title-a-very")


def test_a_good_meta_description_is_kept_and_a_missing_one_is_taken_from_the_content():
    good = "x" * 130
    assert meta_description_suggest(good, "", "") == good
    long_content = "word " * 100
    suggestion = meta_description_suggest("", "", long_content)
    assert len(suggestion) <= 160
    assert suggestion.endswith("…")
    assert meta_description_suggest("", "A short excerpt.", long_content) == "A short excerpt."


def test_the_analysis_lists_the_issues_found():
    analysis = article_analyse(
        title="Cats",
        content=TEXT,
        excerpt="",
        meta_description="",
        keyword="dogs",
    )
    assert analysis.title_length == 4
    assert analysis.meta_description_length == 0
    assert analysis.reading_time_minutes == 1
    assert analysis.keyword_density == 0.0
    assert analysis.suggested_slug == "cats"
    assert analysis.issues == [
        "The title is 4 characters; 30-60 reads best in search results.",
        "The meta description is empty.",
        "The article has 13 words; 300 or more ranks better.",
        "The title does not contain the keyword 'dogs'.",
        "Keyword density is 0.0%; aim for 0.5-2.5%.",
    ]

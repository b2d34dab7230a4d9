"""Without Debian's Chromium the browser tests are skipped, with the reason; in CI they fail."""

from pathlib import Path

import pytest

from tests.browser import conftest


def test_without_chromium_outside_ci_the_browser_tests_are_skipped(monkeypatch):
    monkeypatch.setattr(conftest, "CHROMIUM", Path("/nonexistent/chromium"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        conftest._chromium_or_skip()


def test_without_chromium_in_ci_the_browser_tests_fail(monkeypatch):
    monkeypatch.setattr(conftest, "CHROMIUM", Path("/nonexistent/chromium"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no test may be skipped"):
        conftest._chromium_or_skip()

"""Without node and npm the linter test is skipped, with the reason; in CI it fails."""

import shutil

import pytest

from tests.openapi import conftest


def test_without_node_outside_ci_the_linter_test_is_skipped(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda tool: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install nodejs npm"):
        conftest.node_tools_or_skip()


def test_without_node_in_ci_the_linter_test_fails(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda tool: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no test may be skipped"):
        conftest.node_tools_or_skip()

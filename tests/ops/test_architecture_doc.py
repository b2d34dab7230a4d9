"""docs/architecture.md points at code: every link names a file or folder that exists, and every
app of the house is on one of its floors."""

import re

import pytest
from django.conf import settings

from tests.conftest import ROOT

DOC = ROOT / "docs" / "architecture.md"
LINK = re.compile(r"\]\(\.\./([^)#]+)\)")


@pytest.mark.parametrize("target", sorted(set(LINK.findall(DOC.read_text()))))
def test_every_link_names_code_that_exists(target):
    assert (ROOT / target).exists(), f"docs/architecture.md links to {target}, which is gone"


def test_every_app_of_the_project_is_on_a_floor():
    text = DOC.read_text()
    ours = [app for app in settings.INSTALLED_APPS if (ROOT / app).is_dir()]
    assert ours, settings.INSTALLED_APPS
    missing = [app for app in ours if f"`{app}`" not in text]
    assert not missing, f"docs/architecture.md does not place {missing}"

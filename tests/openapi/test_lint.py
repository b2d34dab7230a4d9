"""The document passes Redocly CLI's ``recommended`` ruleset: no errors and no warnings."""

import json
import os
import subprocess

from tests.openapi.conftest import QUIET


def test_the_document_passes_redoclys_recommended_rules(redocly, document, tmp_path):
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    result = subprocess.run(
        [str(redocly), "lint", str(path), "--extends=recommended", "--format=json",
         "--max-problems=1000"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env={**os.environ, **QUIET},
    )  # fmt: skip
    report = json.loads(result.stdout)
    problems = [
        f"{problem['severity']} {problem['ruleId']}: {problem['message']} "
        f"({problem['location'][0]['pointer']})"
        for problem in report["problems"]
    ]
    assert report["totals"]["errors"] == 0, "\n".join(problems)
    assert report["totals"]["warnings"] == 0, "\n".join(problems)

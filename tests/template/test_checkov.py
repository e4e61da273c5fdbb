"""The scanner's view of the repository: `checkov -d .` reports 0 failed checks (issue 11 item 11).

checkov (pinned in tests/requirements.txt) is the open-source engine of the Prisma Cloud
scanner class that flags resources in regulated accounts. It reads .checkov.yaml at the
repository root. Without network access it prints a warning about the guidelines it could
not download and still scans; the test skips that download and reads only the JSON report.

A check may be skipped only inline, in a resource's Metadata, with a one-line justification:
    Metadata:
      checkov:
        skip:
          - id: CKV_AWS_...
            comment: why this finding does not apply
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import unittest

from test_template import EXAMPLES, ROOT, TEMPLATE, TEMPLATES, load, walk

PINNED = re.search(
    r"^checkov==(\S+)", (ROOT / "tests" / "requirements.txt").read_text(), re.MULTILINE
)
CONFIG = ROOT / ".checkov.yaml"


def checkov_reports() -> list[dict]:
    run = subprocess.run(
        # --skip-download: no call to Prisma Cloud for guideline links, so the result is the
        # same with or without network (plain `checkov -d .` offline prints a warning and
        # scans all the same).
        [sys.executable, "-m", "checkov.main", "-d", ".", "-o", "json", "--compact", "--skip-download"],
        capture_output=True, text=True, cwd=ROOT, check=False, timeout=600,
    )
    if not run.stdout.strip():
        raise AssertionError(f"checkov printed no report (exit {run.returncode}):\n{run.stderr[-3000:]}")
    report = json.loads(run.stdout)
    return report if isinstance(report, list) else [report]


class Checkov(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        try:
            import checkov.version
        except ImportError as missing:  # pragma: no cover - environment problem
            raise ImportError("checkov is required: pip install -r tests/requirements.txt") from missing
        cls.version = checkov.version.version
        cls.reports = checkov_reports()

    def test_checkov_is_the_pinned_version(self):
        self.assertIsNotNone(PINNED, "tests/requirements.txt must pin checkov==<version>")
        self.assertEqual(self.version, PINNED.group(1))

    def test_no_failed_check_anywhere_in_the_repository(self):
        failed = [
            f"{report.get('check_type')}: {check['check_id']} {check.get('resource')} "
            f"({check.get('file_path')}:{check.get('file_line_range')})"
            for report in self.reports
            for check in report.get("results", {}).get("failed_checks", [])
        ]
        self.assertEqual(failed, [], "checkov -d . reports failed checks:\n" + "\n".join(failed))
        for report in self.reports:
            self.assertEqual(report["summary"]["parsing_errors"], 0, report.get("check_type"))

    def test_every_template_is_scanned(self):
        # A template checkov cannot parse is silently not scanned: 0 failed would then mean nothing.
        cloudformation = [r for r in self.reports if r.get("check_type") == "cloudformation"]
        self.assertEqual(len(cloudformation), 1, "checkov found no CloudFormation template")
        scanned = {
            check["file_path"].lstrip("/")
            for check in cloudformation[0]["results"]["passed_checks"]
            + cloudformation[0]["results"].get("skipped_checks", [])
        }
        for path in [TEMPLATE, *EXAMPLES, *TEMPLATES]:
            with self.subTest(template=path.relative_to(ROOT).as_posix()):
                self.assertIn(path.relative_to(ROOT).as_posix(), scanned)

    def test_functions_pass_the_lambda_checks_rather_than_skip_them(self):
        passed = {
            (check["check_id"], check["resource"])
            for report in self.reports if report.get("check_type") == "cloudformation"
            for check in report["results"]["passed_checks"]
        }
        for function in ("RuntimePolicyFunction", "MemoryGrantFunction", "RemediatorFunction"):
            for check_id in ("CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117"):
                with self.subTest(function=function, check=check_id):
                    self.assertIn((check_id, f"AWS::Serverless::Function.{function}"), passed)
        self.assertIn(("CKV_AWS_33", "AWS::KMS::Key.ProjectKey"), passed)

    def test_skips_only_inline_with_a_justification(self):
        config = CONFIG.read_text() if CONFIG.exists() else ""
        for option in ("skip-check", "soft-fail", "check:", "hard-fail-on", "soft-fail-on"):
            self.assertNotIn(
                option, config,
                f".checkov.yaml sets {option}: skip a check inline in the resource's Metadata instead",
            )
        for path in [TEMPLATE, *EXAMPLES, *TEMPLATES]:
            for where, node in walk(load(path).get("Resources", {})):
                if where and where[-1] == "checkov" and isinstance(node, dict):
                    for skip in node.get("skip", []):
                        with self.subTest(template=path.name, skip=skip):
                            self.assertRegex(skip.get("id", ""), r"^CKV2?_[A-Z]+_\d+$")
                            self.assertGreater(
                                len(str(skip.get("comment", "")).strip()), 20,
                                "an inline skip needs a one-line justification",
                            )


if __name__ == "__main__":
    unittest.main()

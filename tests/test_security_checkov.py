"""checkov (offline, kubernetes framework) finds no failed check in what SecurityBaseline
renders itself, in dev and prod. Charts are opaque under mocks; their values are tested
in test_security.py."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tools.offline import Evaluation, manifest

CHECKOV = Path("/tmp/vc/bin/checkov")


@pytest.mark.skipif(not CHECKOV.exists(), reason=f"checkov binary missing at {CHECKOV}")
def test_checkov_finds_no_failed_check_in_security_objects(
    dev: Evaluation, prod: Evaluation, tmp_path: Path
) -> None:
    for ev in (dev, prod):
        objects = [
            manifest(r)
            for r in ev.k8s_objects()
            if (c := ev.component_of(r)) and c.type == "k8splatform:security:SecurityBaseline"
        ]
        assert objects
        (tmp_path / f"{ev.stack}.yaml").write_text(yaml.safe_dump_all(objects, sort_keys=False))
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"}
    args = ["-d", str(tmp_path), "--framework", "kubernetes", "--skip-download", "--compact"]
    run = subprocess.run(
        [str(CHECKOV), *args, "--quiet", "-o", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    report = json.loads(run.stdout)
    reports = report if isinstance(report, list) else [report]
    summary = reports[0]["summary"]
    failed = [
        (f["check_id"], f["resource"])
        for r in reports
        for f in r.get("results", {}).get("failed_checks", [])
    ]
    assert summary["resource_count"] > 0 and summary["parsing_errors"] == 0
    assert failed == []

"""CI workflows, the render command and the footprint report."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from kernel import footprint
from tests.helpers import DEV_CPU_MILLIS, DEV_MEMORY_GIB
from tools import render
from tools.offline import ROOT, Evaluation

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
SHA = re.compile(r"[^@\s]+@[0-9a-f]{40}")


def _steps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for job in doc["jobs"].values() for s in job.get("steps", [])]


def test_workflows_are_valid_yaml_with_every_action_pinned_to_a_commit_sha() -> None:
    assert WORKFLOWS
    for wf in WORKFLOWS:
        doc = yaml.safe_load(wf.read_text())
        for step in _steps(doc):
            if "uses" in step:
                assert SHA.fullmatch(step["uses"]), f"{wf.name}: {step['uses']} is not SHA-pinned"
        assert re.search(r"@[0-9a-f]{40}\s+# v\d", wf.read_text()), f"{wf.name}: version comment"


def _credentials(job: dict[str, Any]) -> None:
    """AWS through OIDC (no keys) and the management kubeconfig from an environment secret."""
    aws = next(s for s in job["steps"] if "configure-aws-credentials" in s.get("uses", ""))
    assert aws["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}"
    assert "aws-access-key-id" not in aws["with"]
    kubeconfig = next(s for s in job["steps"] if "MGMT_KUBECONFIG" in str(s.get("env", {})))
    assert kubeconfig["env"]["MGMT_KUBECONFIG"] == "${{ secrets.MGMT_KUBECONFIG }}"
    assert "KUBECONFIG=" in kubeconfig["run"] and "GITHUB_ENV" in kubeconfig["run"]
    assert job["environment"]


def test_the_pr_preview_runs_the_tests_then_previews_staging_and_prod_with_credentials() -> None:
    doc = yaml.safe_load((ROOT / ".github" / "workflows" / "preview.yml").read_text())
    assert "pull_request" in doc.get("on", doc.get(True))  # YAML 1.1 reads `on` as True
    assert doc["permissions"]["id-token"] == "write"
    assert any(s.get("run", "").strip() == ".ci/run" for s in doc["jobs"]["test"]["steps"])
    preview = doc["jobs"]["preview"]
    assert preview["needs"] == "test"
    # dev has no cluster on a runner: the e2e workflow covers it.
    assert [i["stack"] for i in preview["strategy"]["matrix"]["include"]] == ["staging", "prod"]
    _credentials(preview)
    action = next(s for s in preview["steps"] if "pulumi/actions" in s.get("uses", ""))
    assert action["with"]["command"] == "preview"
    assert action["with"]["policyPacks"] == "policy"
    assert action["with"]["comment-on-pr"] is True
    assert action["with"]["policyPackConfigs"] == "policy/config/prod.json"


def test_prod_deploys_only_behind_the_production_environment_after_staging() -> None:
    doc = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())
    jobs = doc["jobs"]
    assert set(jobs) == {"test", "staging", "prod"}, "no dev job: a runner has no dev cluster"
    assert doc["permissions"]["id-token"] == "write"
    assert jobs["prod"]["environment"] == "production"
    assert jobs["prod"]["needs"] == "staging" and jobs["staging"]["needs"] == "test"
    for name in ("staging", "prod"):
        _credentials(jobs[name])
        action = next(s for s in jobs[name]["steps"] if "pulumi/actions" in s.get("uses", ""))
        assert action["with"]["command"] == "up"
        assert action["with"]["policyPacks"] == "policy"
        assert action["with"]["stack-name"].endswith(f"/k8s-platform/{name}")


def test_the_e2e_workflow_runs_dev_on_kind_and_always_tears_down() -> None:
    doc = yaml.safe_load((ROOT / ".github" / "workflows" / "e2e.yml").read_text())
    (job,) = doc["jobs"].values()
    runs = [s.get("run", "") for s in job["steps"]]
    assert any("kind create cluster --config kind/dev-cluster.yaml" in r for r in runs)
    assert any("pulumi up --yes --stack dev" in r for r in runs)
    assert any(r.strip() == "make e2e" for r in runs)
    teardown = [s for s in job["steps"] if s.get("if") == "always()"]
    assert any("pulumi destroy" in s["run"] for s in teardown)
    assert any("kind delete cluster" in s["run"] for s in teardown)
    assert job["env"]["KIND_VERSION"].startswith("v")


@pytest.mark.parametrize(
    ("values", "cpu", "memory"),
    [
        ({"resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}, "replicas": 3}, 300, 384),
        ({"a": {"replicaCount": 2, "b": {"resources": {"requests": {"cpu": "0.5"}}}}}, 1000, 0),
        (
            {"nodeExporter": {"resources": {"requests": {"cpu": "10m", "memory": "1Gi"}}}},
            40,
            4096,
        ),
        ({"resources": {"limits": {"cpu": "1"}}}, 0, 0),
    ],
)
def test_chart_values_footprint_multiplies_requests_by_replicas_or_nodes(
    values: dict[str, Any], cpu: int, memory: int
) -> None:
    report = footprint.summarise(footprint.from_values("x", values), nodes=4)
    assert report["cpuMillis"] == cpu
    assert report["memoryBytes"] == memory * 2**20


def test_footprint_is_a_stack_output_matching_what_render_computes(stack: Evaluation) -> None:
    output = stack.outputs["footprint"]
    assert output == render.stack_footprint(stack)
    assert output["byWorkload"], "no workload recorded"


def test_dev_fits_a_laptop_within_2_cpu_and_5_gib_of_requests(dev: Evaluation) -> None:
    fp = dev.outputs["footprint"]
    assert fp["cpuMillis"] <= DEV_CPU_MILLIS, fp
    assert fp["memoryBytes"] <= DEV_MEMORY_GIB * 2**30, fp


def test_render_writes_objects_charts_and_redacts_secret_paths(
    tmp_path: Path, dev: Evaluation
) -> None:
    result = render.render("dev", tmp_path)
    assert result["counts"]["k8s"] == len(list((tmp_path / "k8s").glob("*.yaml"))) > 0
    chart = yaml.safe_load((tmp_path / "charts" / "metrics-server.yaml").read_text())
    assert chart["version"] == "3.13.1" and chart["repo"].startswith("https://")
    doc: dict[str, Any] = {"values": {"admin": {"password": "hunter2"}}, "list": ["a", "b"]}
    render.redact(doc, "values.admin.password")
    render.redact(doc, "list[1]")
    assert doc == {"values": {"admin": {"password": "<redacted>"}}, "list": ["a", "<redacted>"]}


def test_checkov_report_fails_on_failed_checks_and_on_silently_skipped_objects(
    tmp_path: Path,
) -> None:
    from verify import checkov_report

    failed = {
        "check_id": "CKV_K8S_16",
        "check_name": "privileged",
        "resource": "Deployment.monitoring.web",
        "file_path": "/web.yaml",
    }
    result = {"results": {"failed_checks": [failed]}, "summary": {"resource_count": 1}}
    report = tmp_path / "checkov.json"
    report.write_text(f'{__import__("json").dumps(result)}\n{{"resource_count": 0}}\n')
    assert checkov_report.main([str(report)]) == 1
    result["results"] = {}
    report.write_text(__import__("json").dumps(result))
    assert checkov_report.main([str(report)]) == 0
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "a.yaml").write_text("kind: Deployment\n---\nkind: Service\n")
    assert checkov_report.main([str(report), "--rendered", str(tmp_path / "k8s")]) == 1


def test_checkov_skips_need_a_reason_waive_by_object_glob_and_go_stale(tmp_path: Path) -> None:
    import json

    from verify import checkov_report

    failed = {
        "check_id": "CKV_K8S_16",
        "check_name": "privileged",
        "resource": "DaemonSet.kube-system.cilium",
        "file_path": "/cilium.yaml",
    }
    report = tmp_path / "checkov.json"
    report.write_text(
        json.dumps({"results": {"failed_checks": [failed]}, "summary": {"resource_count": 1}})
    )
    skips = tmp_path / "skips.yaml"
    skips.write_text("CKV_K8S_16:\n  - objects: [DaemonSet.kube-system.*]\n    reason: the CNI\n")
    assert checkov_report.main(["--skips", str(skips), str(report)]) == 0
    # A waiver for another object leaves the failure standing.
    skips.write_text("CKV_K8S_16:\n  - objects: [DaemonSet.logging.*]\n    reason: logs\n")
    assert checkov_report.main(["--skips", str(skips), str(report)]) == 1
    # A waiver that matches nothing is stale, even when nothing fails.
    report.write_text(json.dumps({"results": {}, "summary": {"resource_count": 1}}))
    assert checkov_report.main(["--skips", str(skips), str(report)]) == 1
    skips.write_text("CKV_K8S_16:\n  - objects: [DaemonSet.logging.*]\n")
    with pytest.raises(SystemExit, match="reason"):
        checkov_report.main(["--skips", str(skips), str(report)])


def test_make_e2e_on_a_laptop_runs_the_stack_the_ci_job_runs() -> None:
    """The isolation check needs two tenants: the shipped dev stack has them, so `make
    e2e` after `make dev` passes where the CI job passes, with no extra config."""
    from tools.offline import stack_config

    tenants = stack_config("dev")["security"]["tenants"]
    assert len({t["name"] for t in tenants}) >= 2
    e2e = (ROOT / ".github" / "workflows" / "e2e.yml").read_text()
    assert "pulumi config set" not in e2e, "the CI job must not configure what a laptop lacks"

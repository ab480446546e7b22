"""Claims of the docs that name a number, a key or a command, checked against the code:
what the docs say a limit, a refusal, a make target or a file is, the code does."""

from __future__ import annotations

import re

import pytest
import yaml

from components.observability.names import GRAFANA_ADMIN_SECRET
from tests.helpers import DEV_CPU_MILLIS, DEV_MEMORY_GIB, problems
from tools.offline import DELETE, ROOT, Evaluation, stack_config

README = (ROOT / "README.md").read_text()
DOCS = {p.relative_to(ROOT).as_posix(): p.read_text() for p in (ROOT / "docs").rglob("*.md")}
RUNBOOKS = {k: v for k, v in DOCS.items() if k.startswith("docs/runbooks/")}
MAKEFILE = (ROOT / "Makefile").read_text()
WORKFLOWS = {p.name: p.read_text() for p in (ROOT / ".github" / "workflows").glob("*.yml")}

pytestmark = pytest.mark.usefixtures("fixture_kubeconfig")


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z0-9-]+):", MAKEFILE, flags=re.M))


def code_of(text: str) -> list[str]:
    """Every command line a reader would copy: fenced bash lines and inline code."""
    fenced = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    lines = [line.strip() for block in fenced for line in block.splitlines()]
    return [*lines, *re.findall(r"`([^`\n]+)`", text)]


def test_the_dev_footprint_limit_in_the_docs_is_the_one_the_test_enforces() -> None:
    found = re.search(r"keep dev within (\d+) vCPU and (\d+) GiB", DOCS["docs/guardrails.md"])
    assert found, "docs/guardrails.md states the dev footprint limit"
    assert (int(found[1]) * 1000, int(found[2])) == (DEV_CPU_MILLIS, DEV_MEMORY_GIB)


def test_instance_profile_credentials_are_documented_as_refused_by_prod() -> None:
    text = DOCS["docs/persistence.md"]
    assert "the prod stack file's default" not in text
    key = "persistence.backups.objectStore.credentialsSecret"
    found = problems("prod", {key: DELETE})
    assert "not the node's instance profile" in found[key]
    assert f"`acceptRisks` names\n     `{key}`" in text
    prod = stack_config("prod")["persistence"]
    assert prod["backups"]["objectStore"]["credentialsSecret"], "prod ships static keys"


def test_alert_receivers_are_documented_as_required_by_prod_and_live_in_its_stack() -> None:
    text = DOCS["docs/runbooks/alert-receivers.md"]
    key = "observability.alerting.receivers"
    assert "at least one alert receiver" in problems("prod", {key: []})[key]
    assert f"refused (`{key}`" in text.replace("\n", " ")
    assert "commented example" not in text and "deployment warns" not in text
    live = stack_config("prod")["observability"]["alerting"]
    assert live["receivers"], "Pulumi.prod.yaml configures live receivers"


def test_make_test_is_documented_as_exactly_its_prerequisites() -> None:
    (prereqs,) = re.findall(r"^test: ([^#\n]*)##", MAKEFILE, flags=re.M)
    line = next(x for x in DOCS["docs/guardrails.md"].splitlines() if x.startswith("`make test`"))
    documented = re.findall(r"`([a-z]+)`", line.split("=", 1)[1])
    assert documented == prereqs.split()


def test_every_policy_pack_config_the_docs_and_workflows_name_exists() -> None:
    texts = [README, *DOCS.values(), *WORKFLOWS.values()]
    named = {m for t in texts for m in re.findall(r"policy/config/[\w<>.-]+\.json", t)}
    assert "policy/config/prod.json" in named
    assert sorted(p for p in named if not (ROOT / p).is_file()) == []


def test_the_global_checkov_waivers_are_the_ones_the_docs_list() -> None:
    skips = yaml.safe_load((ROOT / "verify" / "checkov_skips.yaml").read_text())
    everywhere = {c for c, entries in skips.items() if any(e["objects"] == ["*"] for e in entries)}
    text = DOCS["docs/guardrails.md"]
    assert "No global skips" not in text
    paragraph = text.split('(`objects: ["*"]`)', 1)[1].split("\n\n", 1)[0]
    assert set(re.findall(r"CKV_K8S_\d+", paragraph)) == everywhere
    assert len(everywhere) == 3


def test_every_replace_in_the_docs_names_a_urn() -> None:
    lines = [line for t in [README, *DOCS.values()] for line in code_of(t)]
    replaces = [line for line in lines if "--replace" in line or "REPLACE=" in line]
    assert replaces, "the docs show how to replace a resource"
    for line in replaces:
        assert re.search(r"--replace '?urn:|REPLACE=\"\$\(make -s urn ", line), line


def test_no_doc_claims_the_preview_prints_its_target_first() -> None:
    """Pulumi shows the program's log lines in the Diagnostics section, not first."""
    for name, text in {"README.md": README, **DOCS}.items():
        flat = " ".join(text.split())
        assert not re.search(r"starting with its target|target context and server first", flat), (
            name
        )


def test_the_readme_says_where_the_grafana_password_and_the_dev_ca_are(dev: Evaluation) -> None:
    access = DOCS["docs/runbooks/dev-access.md"]
    secret = dev.one("kubernetes:core/v1:Secret", "grafana-admin")
    assert secret.k8s_name == GRAFANA_ADMIN_SECRET
    assert f"`{secret.namespace}/{GRAFANA_ADMIN_SECRET}` (key `admin-password`)" in README
    assert "admin-password" in str(secret.inputs["stringData"])
    assert (
        f"kubectl -n {secret.namespace} get secret {GRAFANA_ADMIN_SECRET} "
        "-o jsonpath='{.data.admin-password}'" in access
    )
    ca = dev.one("kubernetes:cert-manager.io/v1:Certificate", "certificate-platform-ca")
    ca_secret = ca.inputs["spec"]["secretName"]
    assert f"`{ca.namespace}/{ca_secret}`" in README
    assert f"kubectl -n {ca.namespace} get secret {ca_secret}" in access
    assert "docs/runbooks/dev-access.md" in README


def test_delivery_says_to_create_every_stack_the_workflows_use() -> None:
    text = DOCS["docs/delivery.md"]
    stacks = set()
    for wf in WORKFLOWS.values():
        stacks |= set(re.findall(r"k8s-platform/(staging|prod)\b", wf))
        assert "upsert: true" not in wf, "the docs say the workflows never create a stack"
    assert stacks == {"staging", "prod"}
    for stack in stacks:
        assert f"pulumi stack init <org>/k8s-platform/{stack}" in text
    assert "`upsert`" in text and "commit both stack files" in text


def test_runbooks_need_no_bare_pulumi_for_dev() -> None:
    """Every pulumi command of a runbook is a make target (dev backend and passphrase
    set), or names a staging/prod stack explicitly."""
    bare = []
    for name, text in RUNBOOKS.items():
        for line in code_of(text):
            if re.match(r"pulumi (up|preview|config|stack|state|destroy|refresh)\b", line) and (
                not re.search(r"--stack (staging|prod)\b", line)
            ):
                bare.append(f"{name}: {line}")
    assert bare == []


def test_every_make_command_in_the_docs_is_a_target() -> None:
    targets = make_targets()
    named = set()
    for text in [README, *DOCS.values()]:
        for line in code_of(text):
            for m in re.finditer(r"\bmake (?:-s )?((?:[a-z][a-z0-9-]* ?)+)", line):
                named |= {w for w in m[1].split() if "=" not in w}
    assert {"up", "preview", "output", "config", "protected", "urn"} <= named
    assert sorted(named - targets) == []


def test_the_teardown_protect_check_reads_the_exported_state() -> None:
    text = DOCS["docs/runbooks/teardown.md"]
    assert "--show-urns | grep" not in text
    assert "`make protected STACK=prod`" in text
    assert re.search(
        r"^protected:.*\n\t@pulumi stack export --stack \$\(STACK\) \|", MAKEFILE, re.M
    )


def test_every_test_file_the_docs_name_exists() -> None:
    named = {
        path
        for text in [README, *DOCS.values()]
        for path in re.findall(r"(?<![\w/])(?:tests|policy/tests)/[\w/]+\.py", text)
    }
    assert named, "the docs name no test file"
    assert sorted(p for p in named if not (ROOT / p).is_file()) == []

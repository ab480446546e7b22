"""SecurityBaseline: isolation of every namespace, RBAC, admission, TLS, scanning."""

from __future__ import annotations

from typing import Any

import pytest

from components.security.policies import TENANT_LABEL, cluster_policies
from kernel.namespaces import POLICY_EXEMPT_NAMESPACES
from settings import load
from tests.helpers import problem_keys
from tools.offline import (
    Evaluation,
    Resource,
    apply_overrides,
    stack_config,
)

# The fixture kubeconfig (tests/conftest.py): settings read it at plan time.
pytestmark = pytest.mark.usefixtures("fixture_kubeconfig")

NAMESPACE = "kubernetes:core/v1:Namespace"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PSA = "pod-security.kubernetes.io"


def policies_in(ev: Evaluation, namespace: str) -> list[dict[str, Any]]:
    return [r.inputs["spec"] for r in ev.of_type(NETPOL) if r.namespace == namespace]


# ---- namespaces: every one, anywhere in the program -----------------------------------------


def test_every_namespace_in_the_program_has_pinned_pod_security_labels(stack: Evaluation) -> None:
    namespaces = stack.of_type(NAMESPACE)
    assert len(namespaces) >= 10
    for ns in namespaces:
        labels = ns.metadata.get("labels", {})
        for mode in ("enforce", "audit", "warn"):
            assert labels.get(f"{PSA}/{mode}") in {"restricted", "baseline", "privileged"}, (
                ns.k8s_name,
                mode,
            )
            assert labels.get(f"{PSA}/{mode}-version", "").startswith("v1."), ns.k8s_name


def test_every_namespace_in_the_program_starts_default_deny_with_dns_allowed(
    stack: Evaluation,
) -> None:
    for ns in stack.of_type(NAMESPACE):
        specs = policies_in(stack, ns.k8s_name or "")
        assert {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]} in specs, ns.k8s_name
        dns = [
            s
            for s in specs
            for rule in s.get("egress", [])
            if {"protocol": "UDP", "port": 53} in rule.get("ports", [])
            and any(
                p.get("podSelector", {}).get("matchLabels") == {"k8s-app": "kube-dns"}
                for p in rule.get("to", [])
            )
        ]
        assert dns, f"{ns.k8s_name}: no DNS egress to kube-dns"


def test_tenants_are_restricted_and_only_listed_platform_namespaces_are_weaker(
    stack: Evaluation,
) -> None:
    for ns in stack.of_type(NAMESPACE):
        labels = ns.metadata["labels"]
        if TENANT_LABEL in labels:
            assert labels[f"{PSA}/enforce"] == "restricted"
        elif labels[f"{PSA}/enforce"] != "restricted":
            assert ns.metadata["annotations"]["k8s-platform/pod-security-reason"]
        if labels[f"{PSA}/enforce"] == "privileged":
            assert ns.k8s_name in POLICY_EXEMPT_NAMESPACES


def test_trivy_runs_in_a_restricted_namespace(dev: Evaluation) -> None:
    trivy = next(n for n in dev.of_type(NAMESPACE) if n.k8s_name == "trivy-system")
    assert trivy.metadata["labels"][f"{PSA}/enforce"] == "restricted"
    operator = dev.chart("trivy-operator").inputs["values"]["operator"]
    assert operator["infraAssessmentScannerEnabled"] is False  # node-collector needs hostPath


def test_prometheus_may_scrape_every_namespace_but_its_own_needs_no_rule(
    stack: Evaluation,
) -> None:
    workload = {
        p.urn for p in stack.of_type("pulumi:providers:kubernetes") if "management" not in p.name
    }
    for ns in stack.of_type(NAMESPACE):
        # The Prometheus that scrapes runs on the workload cluster; the management
        # cluster's namespace (capi mode) holds only Cluster API objects.
        if ns.k8s_name == "monitoring" or ns.provider_urn not in workload:
            continue
        peers = [
            p
            for s in policies_in(stack, ns.k8s_name or "")
            for rule in s.get("ingress", [])
            for p in rule.get("from", [])
        ]
        assert {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
        } in peers, ns.k8s_name


CNP = "kubernetes:cilium.io/v2:CiliumNetworkPolicy"


def test_operators_reach_the_api_server_as_the_kube_apiserver_entity(prod: Evaluation) -> None:
    """Cilium never matches an ipBlock against the API server (layer3.rst "Selecting
    nodes with CIDR / ipBlock"): the allow names the entity."""
    egress = [r for r in prod.of_type(CNP) if r.k8s_name == "allow-api-server-egress"]
    namespaces = {r.namespace for r in egress}
    assert {"cert-manager", "kyverno", "trivy-system", "monitoring"} <= namespaces
    assert "node-exporter" not in namespaces and "payments" not in namespaces
    for r in egress:
        rule = r.inputs["spec"]["egress"][0]
        assert rule["toEntities"] == ["kube-apiserver"]
        assert {p["port"] for p in rule["toPorts"][0]["ports"]} == {"443", "6443"}
    assert not [r for r in prod.of_type(NETPOL) if r.k8s_name == "allow-api-server-egress"]


def test_webhooks_accept_calls_from_the_api_server(stack: Evaluation) -> None:
    webhook = {
        r.namespace: r.inputs["spec"]["ingress"][0]
        for r in stack.of_type(CNP)
        if r.k8s_name == "allow-api-server-webhook"
    }
    assert webhook["cert-manager"]["toPorts"][0]["ports"] == [{"port": "10250", "protocol": "TCP"}]
    assert webhook["kyverno"]["toPorts"][0]["ports"] == [{"port": "9443", "protocol": "TCP"}]
    # Whichever identity the call carries (kernel.network docstring), on the webhook port only.
    callers = ["kube-apiserver", "host", "remote-node"]
    assert all(rule["fromEntities"] == callers for rule in webhook.values())


def test_no_ipblock_reaches_nodes_or_the_api_server(stack: Evaluation) -> None:
    """Only outside addresses remain in ipBlocks (Cilium matches nothing else with them)."""
    for r in stack.of_type(NETPOL):
        spec = r.inputs["spec"]
        for rule in spec.get("egress", []) + spec.get("ingress", []):
            for peer in rule.get("to", []) + rule.get("from", []):
                if "ipBlock" in peer:
                    assert peer["ipBlock"]["cidr"] == "0.0.0.0/0", r.urn


# ---- tenants and RBAC ------------------------------------------------------------------------


def test_each_tenant_gets_a_quota_and_a_limit_range(prod: Evaluation) -> None:
    quotas = {
        r.namespace: r
        for r in prod.of_type("kubernetes:core/v1:ResourceQuota")
        if r.k8s_name == "tenant-quota"  # beside it: no-reserved-priority (test_tenant_limits)
    }
    limits = {r.namespace for r in prod.of_type("kubernetes:core/v1:LimitRange")}
    assert set(quotas) == limits == {"payments", "storefront"}
    assert quotas["payments"].inputs["spec"]["hard"]["requests.cpu"] == "16"  # stack file
    assert quotas["storefront"].inputs["spec"]["hard"]["requests.cpu"] == "8"  # profile


def test_no_role_this_project_defines_uses_wildcards(stack: Evaluation) -> None:
    roles = stack.of_type("kubernetes:rbac.authorization.k8s.io/v1:Role") + stack.of_type(
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
    )
    assert roles
    for role in roles:
        for rule in role.inputs["rules"]:
            for key in ("verbs", "resources", "apiGroups"):
                assert "*" not in rule.get(key, []), (role.name, rule)


def test_ci_deployer_cannot_read_secrets_or_grant_itself_more(stack: Evaluation) -> None:
    for role in stack.of_type("kubernetes:rbac.authorization.k8s.io/v1:Role"):
        resources = {res for rule in role.inputs["rules"] for res in rule["resources"]}
        assert not resources & {"secrets", "roles", "rolebindings", "networkpolicies"}
        verbs = {v for rule in role.inputs["rules"] for v in rule["verbs"]}
        assert not verbs & {"escalate", "bind", "impersonate"}


def test_groups_bind_to_the_tenant_developer_role_and_builtin_view(prod: Evaluation) -> None:
    bindings = {
        (r.namespace, r.inputs["roleRef"]["name"]): [s["name"] for s in r.inputs["subjects"]]
        for r in prod.of_type("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")
    }
    assert bindings[("payments", "k8s-platform:tenant-developer")] == ["oidc:team-payments"]
    assert not [k for k in bindings if k[1] in ("edit", "admin")]
    assert bindings[("payments", "view")] == ["oidc:payments-support"]
    cluster = {
        r.inputs["roleRef"]["name"]: [s["name"] for s in r.inputs["subjects"]]
        for r in prod.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding")
        if all(s["kind"] == "Group" for s in r.inputs["subjects"])
    }
    assert cluster == {
        "cluster-admin": ["oidc:platform-admins"],
        "view": ["oidc:sre-oncall", "oidc:security-auditors"],
    }


# ---- admission ----------------------------------------------------------------------------


def cluster_policy_objects(ev: Evaluation) -> dict[str, Resource]:
    return {r.k8s_name or "": r for r in ev.of_type("kubernetes:kyverno.io/v1:ClusterPolicy")}


def test_prod_kyverno_enforces_with_three_admission_replicas_and_pdbs(prod: Evaluation) -> None:
    values = prod.chart("kyverno").inputs["values"]
    adm = values["admissionController"]
    assert adm["replicas"] >= 3 and adm["podDisruptionBudget"]["enabled"] is True
    for ctl in ("backgroundController", "cleanupController", "reportsController"):
        assert values[ctl]["replicas"] >= 2 and values[ctl]["podDisruptionBudget"]["enabled"]
    assert prod.outputs["policyMode"] == "Enforce"
    assert prod.chart("kyverno-policies").inputs["values"]["validationFailureAction"] == "Enforce"
    actions = {
        name: {rule["validate"]["failureAction"] for rule in r.inputs["spec"]["rules"]}
        for name, r in cluster_policy_objects(prod).items()
    }
    assert actions.pop("require-ha-deployments") == {"Audit"}  # reported, never blocking
    assert all(a == {"Enforce"} for a in actions.values()), actions


def test_dev_kyverno_audits_with_one_replica(dev: Evaluation) -> None:
    values = dev.chart("kyverno").inputs["values"]
    assert values["admissionController"]["replicas"] == 1
    assert dev.outputs["policyMode"] == "Audit"
    assert "require-ha-deployments" not in cluster_policy_objects(dev)
    for r in cluster_policy_objects(dev).values():
        assert {rule["validate"]["failureAction"] for rule in r.inputs["spec"]["rules"]} == {
            "Audit"
        }


def test_kyverno_hook_jobs_are_not_rendered(stack: Evaluation) -> None:
    values = stack.chart("kyverno").inputs["values"]
    assert values["crds"]["migration"]["enabled"] is False
    assert values["webhooksCleanup"]["enabled"] is False
    assert stack.chart("cert-manager").inputs["values"]["startupapicheck"]["enabled"] is False


def test_privileged_and_host_path_exemptions_come_from_the_namespace_catalogue() -> None:
    policy = next(
        p
        for p in cluster_policies("Enforce", False)
        if p["metadata"]["name"] == "disallow-privileged-and-host-path"
    )
    for rule in policy["spec"]["rules"]:
        assert rule["exclude"]["any"][0]["resources"]["namespaces"] == list(
            POLICY_EXEMPT_NAMESPACES
        )
    assert "node-exporter" in POLICY_EXEMPT_NAMESPACES and "kube-system" in POLICY_EXEMPT_NAMESPACES


def test_charts_wait_for_their_namespace_and_policies_wait_for_kyverno(dev: Evaluation) -> None:
    kyverno = dev.chart("kyverno")
    for r in cluster_policy_objects(dev).values():
        assert kyverno.urn in r.dependencies
    issuer = next(
        r
        for r in dev.of_type("kubernetes:cert-manager.io/v1:ClusterIssuer")
        if r.k8s_name == "platform-ca"
    )
    assert dev.chart("cert-manager").urn in issuer.dependencies


# ---- TLS and scanning ------------------------------------------------------------------------


def test_dev_issues_from_a_self_signed_ca_and_prod_from_acme(
    dev: Evaluation, prod: Evaluation
) -> None:
    assert dev.outputs["clusterIssuer"] == "platform-ca"
    assert prod.outputs["clusterIssuer"] == "letsencrypt"
    issuers = {
        r.k8s_name: r.inputs["spec"]
        for r in prod.of_type("kubernetes:cert-manager.io/v1:ClusterIssuer")
    }
    # prod keeps the internal CA too: ACME cannot sign in-cluster service names (webhooks).
    assert issuers["platform-ca"] == {"ca": {"secretName": "platform-ca"}}
    acme = issuers["letsencrypt"]["acme"]
    assert acme["email"] == "platform-team@example.com"
    ref = acme["solvers"][0]["http01"]["gatewayHTTPRoute"]["parentRefs"][0]
    assert (ref["name"], ref["namespace"]) == ("platform", "gateway")
    values = prod.chart("cert-manager").inputs["values"]
    assert values["config"]["gatewayAPI"] == {"enabled": True}
    assert "config" not in dev.chart("cert-manager").inputs["values"]


def test_prod_cert_manager_is_ha(prod: Evaluation) -> None:
    values = prod.chart("cert-manager").inputs["values"]
    for tier in (values, values["webhook"], values["cainjector"]):
        assert tier["replicaCount"] >= 2
        assert tier["podDisruptionBudget"]["enabled"] is True
        assert tier["topologySpreadConstraints"]


def test_trivy_images_are_pinned_by_digest(stack: Evaluation) -> None:
    values = stack.chart("trivy-operator").inputs["values"]
    for tag in (values["image"]["tag"], values["trivy"]["image"]["tag"]):
        version, _, digest = tag.partition("@sha256:")
        assert len(digest) == 64 and version, tag
    assert values["trivy"]["image"]["tag"].startswith("0.72.0@")  # not 0.69.4-0.69.6


def test_every_workload_value_set_has_requests_and_limits(stack: Evaluation) -> None:
    def check(resources: dict[str, Any]) -> None:
        assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}

    cm = stack.chart("cert-manager").inputs["values"]
    for tier in (cm, cm["webhook"], cm["cainjector"]):
        check(tier["resources"])
    ky = stack.chart("kyverno").inputs["values"]
    check(ky["admissionController"]["container"]["resources"])
    check(ky["admissionController"]["initContainer"]["resources"])
    for ctl in ("backgroundController", "cleanupController", "reportsController"):
        check(ky[ctl]["resources"])
    tv = stack.chart("trivy-operator").inputs["values"]
    check(tv["resources"])
    check(tv["trivy"]["resources"])


# ---- settings guards ---------------------------------------------------------------------


def test_prod_cannot_drop_to_audit_or_one_replica_without_accepting_the_risk() -> None:
    keys = problem_keys(
        "prod", {"security.admission.mode": "Audit", "security.admission.replicas": 1}
    )
    assert keys == ["security.admission.mode", "security.admission.replicas"]
    accepted = apply_overrides(
        stack_config("prod"),
        {
            "security.admission.mode": "Audit",
            "acceptRisks": ["security.admission.mode"],
        },
    )
    assert load(accepted, "prod").security.admission.mode == "Audit"


def test_tenants_need_a_cni_with_cluster_wide_deny_rules() -> None:
    keys = problem_keys(
        "dev", {"cluster.cni": {"name": "other", "install": False, "nodeCidrs": ["172.18.0.0/16"]}}
    )
    assert keys == ["cluster.cni.name"]


def test_acme_needs_an_email_and_http01_needs_gateway_api() -> None:
    keys = problem_keys(
        "dev",
        {"security.tls.issuer": "acme", "security.tls.gatewayApi": False},
    )
    assert keys == ["security.tls.acme.email", "security.tls.gatewayApi"]


def test_bad_digests_and_wildcard_groups_are_rejected() -> None:
    keys = problem_keys(
        "dev",
        {
            "security.trivy.scannerDigest": "0.72.0",
            "security.rbac.viewerGroups": ["*"],
        },
    )
    assert keys == ["security.rbac.viewerGroups[0]", "security.trivy.scannerDigest"]

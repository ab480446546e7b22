"""People log in as themselves: the API server of a capi cluster authenticates the stack's
OIDC issuer (structured AuthenticationConfiguration), so the `oidc:` groups the RBAC
bindings name are real; the `kubeconfig` output holds no credential, and the admin
certificate is a separate, secret break-glass output.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components.control_plane.authn import api_version
from kernel.loader import SettingsError
from settings import load
from tools.fullrender import FullRender
from tools.offline import DELETE, Evaluation, apply_overrides, stack_config

AUTH = "cluster.authentication"


pytestmark = pytest.mark.usefixtures("fixture_kubeconfig")


def _kcp_config(full: FullRender) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the AuthenticationConfiguration the API server reads, the apiServer config)."""
    (kcp,) = [o for o in full.objects if o.kind == "KubeadmControlPlane"]
    spec = kcp.doc["spec"]["kubeadmConfigSpec"]
    api = spec["clusterConfiguration"]["apiServer"]
    flags = {a["name"]: a["value"] for a in api.get("extraArgs") or []}
    path = flags.get("authentication-config")
    assert path, "the API server has no --authentication-config: only the admin cert works"
    (file,) = [f for f in spec["files"] if f["path"] == path]
    mounted = [
        v
        for v in api.get("extraVolumes") or []
        if path.startswith(v["mountPath"] + "/") and v.get("readOnly")
    ]
    assert mounted, f"{path} is not mounted into the API server's static pod"
    assert not [k for k in flags if k.startswith("oidc-")], "legacy --oidc-* flags conflict"
    return yaml.safe_load(file["content"]), api


def _bound_groups(full: FullRender) -> set[str]:
    return {
        s["name"]
        for b in full.of_kind("RoleBinding", "ClusterRoleBinding")
        for s in b.doc.get("subjects") or []
        if s.get("kind") == "Group" and not s["name"].startswith("system:")
    }


def test_every_bound_group_is_one_the_api_server_can_authenticate(full_prod: FullRender) -> None:
    config, _ = _kcp_config(full_prod)
    assert config["kind"] == "AuthenticationConfiguration"
    assert config["apiVersion"] == api_version(full_prod.kube_version)
    (jwt,) = config["jwt"]
    assert jwt["issuer"]["url"].startswith("https://")
    assert jwt["issuer"]["audiences"]
    prefix = jwt["claimMappings"]["groups"]["prefix"]
    assert jwt["claimMappings"]["username"]["prefix"] == prefix
    groups = _bound_groups(full_prod)
    # A walk that finds no binding must not pass: Pulumi.prod.yaml binds oidc: groups.
    assert "oidc:platform-admins" in groups
    assert prefix and all(g.startswith(prefix) for g in groups), (prefix, sorted(groups))


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("v1.33.7", "apiserver.config.k8s.io/v1beta1"),
        ("v1.34.11", "apiserver.config.k8s.io/v1"),
        ("v1.35.0", "apiserver.config.k8s.io/v1"),
        ("v1.37.1", "apiserver.config.k8s.io/v1"),
    ],
)
def test_the_config_version_is_one_the_clusters_api_server_reads(
    version: str, expected: str
) -> None:
    # v1 is GA from 1.34; 1.33 knows v1beta1 only (kube-apiserver Configuration API docs).
    assert api_version(version) == expected


def test_the_kubeconfig_output_logs_in_through_the_idp(prod: Evaluation) -> None:
    assert "kubeconfig" not in prod.secret_outputs  # no credential inside
    doc = yaml.safe_load(prod.outputs["kubeconfig"])
    (user,) = doc["users"]
    assert set(user["user"]) == {"exec"}, "a key, certificate or token in the kubeconfig"
    exec_ = user["user"]["exec"]
    assert exec_["apiVersion"] == "client.authentication.k8s.io/v1"
    assert exec_["command"] == "kubectl" and exec_["args"][:2] == ["oidc-login", "get-token"]
    assert "--oidc-issuer-url=https://login.example.com/realms/platform" in exec_["args"]
    assert "--oidc-client-id=k8s-platform" in exec_["args"]
    (cluster,) = doc["clusters"]
    assert cluster["cluster"]["server"] == prod.outputs["apiEndpoint"]
    # The admin certificate is the break-glass output, and secret.
    assert "breakGlassKubeconfig" in prod.secret_outputs
    assert prod.outputs["breakGlassKubeconfig"] != prod.outputs["kubeconfig"]


def test_dev_without_an_issuer_publishes_no_login_kubeconfig(dev: Evaluation) -> None:
    assert dev.outputs["kubeconfig"] is None
    assert "breakGlassKubeconfig" in dev.secret_outputs


def test_prod_refuses_to_deploy_without_an_authenticator() -> None:
    missing = {AUTH: DELETE}
    with pytest.raises(SettingsError) as err:
        load(apply_overrides(stack_config("prod"), missing), "prod")
    assert [p.key for p in err.value.problems] == [AUTH]
    accepted = {**missing, "acceptRisks": [AUTH]}
    assert (
        load(apply_overrides(stack_config("prod"), accepted), "prod").cluster.authentication is None
    )


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ({f"{AUTH}.issuer": "http://login.example.com"}, f"{AUTH}.issuer"),
        ({f"{AUTH}.clientId": "someone-else"}, f"{AUTH}.clientId"),
        ({f"{AUTH}.prefix": ""}, f"{AUTH}.prefix"),
        ({f"{AUTH}.audiences": []}, f"{AUTH}.audiences"),
    ],
)
def test_bad_authentication_settings_name_their_key(override: dict[str, Any], key: str) -> None:
    with pytest.raises(SettingsError) as err:
        load(apply_overrides(stack_config("prod"), override), "prod")
    assert key in [p.key for p in err.value.problems], err.value.problems


def _plain(value: Any) -> Any:
    """Mocks hand secret values over wrapped; unwrap them."""
    if isinstance(value, dict) and "value" in value and len(value) <= 2:
        return value["value"]
    return value


def test_the_cluster_autoscaler_holds_a_narrow_token_not_the_admin_cert(prod: Evaluation) -> None:
    values = prod.chart("prod-cluster-autoscaler").inputs["values"]
    name = values["clusterAPIKubeconfigSecret"]
    assert name != "prod-kubeconfig", "the autoscaler mounts CAPI's system:masters certificate"
    mgmt = prod.one("pulumi:providers:kubernetes", "prod-management").urn
    (secret,) = [
        r
        for r in prod.of_type("kubernetes:core/v1:Secret")
        if r.inputs.get("metadata", {}).get("name") == name and r.provider_urn == mgmt
    ]
    kubeconfig = yaml.safe_load(_plain(secret.inputs["stringData"]["value"]))
    (user,) = kubeconfig["users"]
    assert set(user["user"]) == {"token"}, "a certificate or key in the autoscaler's kubeconfig"
    # What that token may do on the workload cluster: its bindings' rules, all of them.
    roles = {
        r.inputs["metadata"]["name"]: r.inputs["rules"]
        for t in ("ClusterRole", "Role")
        for r in prod.of_type(f"kubernetes:rbac.authorization.k8s.io/v1:{t}")
    }
    rules = [
        rule
        for t in ("ClusterRoleBinding", "RoleBinding")
        for b in prod.of_type(f"kubernetes:rbac.authorization.k8s.io/v1:{t}")
        if any(
            s["kind"] == "ServiceAccount" and s["name"] == "cluster-autoscaler"
            for s in b.inputs["subjects"]
        )
        for rule in roles[b.inputs["roleRef"]["name"]]
    ]
    assert rules, "the autoscaler's ServiceAccount is bound to nothing"
    flat = [
        (g, res, v)
        for r in rules
        for g in r["apiGroups"]
        for res in r["resources"]
        for v in r["verbs"]
    ]
    assert ("", "nodes", "update") in flat and ("", "pods/eviction", "create") in flat
    assert not [f for f in flat if "*" in f], "wildcards"
    assert not [f for f in flat if f[1] == "secrets"], "Secrets"
    assert not [f for f in flat if f[0] == "rbac.authorization.k8s.io"], "RBAC"
    assert not [f for f in flat if f[2] in ("escalate", "bind", "impersonate")]

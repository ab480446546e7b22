"""HAControlPlane in `capi` mode: what the prod stack asks Cluster API to build."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml

from components.control_plane import capi_infra
from components.control_plane import capi_objects as capi
from kernel.catalogue import CHARTS
from settings import SettingsError, load
from tools.chart_sources import chart_dir
from tools.offline import (
    DELETE,
    FAKE_WORKLOAD_KUBECONFIG,
    SIG_KEY,
    Evaluation,
    evaluate,
    stack_config,
)

# The fixture kubeconfig (tests/conftest.py): the management context is read at plan time.
pytestmark = pytest.mark.usefixtures("fixture_kubeconfig")
CAPI = "kubernetes:cluster.x-k8s.io/v1beta2:"
INFRA = "kubernetes:infrastructure.cluster.x-k8s.io/v1beta2:"
KCP = "kubernetes:controlplane.cluster.x-k8s.io/v1beta2:KubeadmControlPlane"


def capi_objects(e: Evaluation) -> list[Any]:
    return [r for r in e.k8s_objects() if "x-k8s.io" in r.type]


def kcp_spec(e: Evaluation) -> dict[str, Any]:
    return e.one(KCP).inputs["spec"]


def plain(value: Any) -> Any:
    """Secret inputs arrive wrapped as {<sig>: <secret sig>, "value": ...}."""
    if isinstance(value, dict) and SIG_KEY in value:
        return value["value"]
    return value


def arg_map(extra_args: list[dict[str, str]]) -> dict[str, str]:
    assert all(set(a) == {"name", "value"} for a in extra_args)
    return {a["name"]: a["value"] for a in extra_args}


# ---- shape -----------------------------------------------------------------------------


def test_prod_runs_capi_on_aws_with_three_control_plane_replicas(prod: Evaluation) -> None:
    spec = kcp_spec(prod)
    assert spec["replicas"] == 3
    assert spec["version"] == prod.outputs["kubernetesVersion"]
    assert spec["machineTemplate"]["spec"]["infrastructureRef"]["kind"] == "AWSMachineTemplate"
    assert spec["rollout"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1},
    }
    assert spec["rollout"]["before"]["certificatesExpiryDays"] >= 7
    assert spec["remediation"]["maxRetry"] > 0
    cluster = prod.one(CAPI + "Cluster")
    assert cluster.inputs["spec"]["infrastructureRef"]["kind"] == "AWSCluster"
    assert prod.outputs["controlPlaneReplicas"] == 3
    assert prod.outputs["controlPlaneMetrics"] is True and prod.outputs["etcdSnapshots"] is True


def test_refs_use_api_group_not_api_version(prod: Evaluation) -> None:
    for md in prod.of_type(CAPI + "MachineDeployment"):
        tpl = md.inputs["spec"]["template"]["spec"]
        for ref in (tpl["infrastructureRef"], tpl["bootstrap"]["configRef"]):
            assert set(ref) == {"apiGroup", "kind", "name"}


def test_one_autoscaled_machine_deployment_per_availability_zone(prod: Evaluation) -> None:
    mds = prod.of_type(CAPI + "MachineDeployment")
    zones = sorted(md.inputs["spec"]["template"]["spec"]["failureDomain"] for md in mds)
    assert zones == ["eu-west-1a", "eu-west-1b", "eu-west-1c"] == prod.outputs["failureDomains"]
    for md in mds:
        assert "replicas" not in md.inputs["spec"]  # the autoscaler owns it
        assert "spec.replicas" in md.ignore_changes
        notes = md.metadata["annotations"]
        assert int(notes[capi.AUTOSCALER_MIN]) <= int(notes[capi.AUTOSCALER_MAX])
        rolling = md.inputs["spec"]["rollout"]["strategy"]["rollingUpdate"]
        assert rolling["maxUnavailable"] == 0


def test_aws_cluster_spans_three_zones_behind_a_restricted_nlb(prod: Evaluation) -> None:
    spec = prod.one(INFRA + "AWSCluster").inputs["spec"]
    assert spec["network"]["vpc"]["availabilityZoneUsageLimit"] == 3
    lb = spec["controlPlaneLoadBalancer"]
    assert lb["loadBalancerType"] == "nlb"
    cidrs = [c for rule in lb["ingressRules"] for c in rule["cidrBlocks"]]
    assert "0.0.0.0/0" not in cidrs
    assert "203.0.113.0/24" in cidrs  # the user allow-list
    assert "198.51.100.7/32" in cidrs  # CAPI's own access from the management cluster
    assert spec["bastion"] == {"enabled": False}


def test_encryption_at_rest_is_wired_file_flag_volume_and_key(prod: Evaluation) -> None:
    kcfg = kcp_spec(prod)["kubeadmConfigSpec"]
    api = kcfg["clusterConfiguration"]["apiServer"]
    path = arg_map(api["extraArgs"])["encryption-provider-config"]
    enc_file = next(f for f in kcfg["files"] if f["path"] == path)
    assert "content" not in enc_file  # the key never sits in the KCP spec
    source = enc_file["contentFrom"]["secret"]
    assert any(path.startswith(v["mountPath"]) and v["readOnly"] for v in api["extraVolumes"])
    secret = prod.one("kubernetes:core/v1:Secret", source["name"])
    assert secret.namespace == prod.one(CAPI + "Cluster").namespace
    assert "stringData" in secret.secret_paths or any(
        p.startswith("stringData") for p in secret.secret_paths
    )
    config = yaml.safe_load(plain(plain(secret.inputs["stringData"])[source["key"]]))
    assert config["apiVersion"] == "apiserver.config.k8s.io/v1"
    assert config["kind"] == "EncryptionConfiguration"
    providers = config["resources"][0]["providers"]
    assert list(providers[0]) == ["secretbox"] and providers[-1] == {"identity": {}}
    key = providers[0]["secretbox"]["keys"][0]["secret"]
    assert len(base64.b64decode(key)) == 32
    assert (
        prod.one("random:index/randomBytes:RandomBytes", "prod-encryption-key").inputs["length"]
        == 32
    )


def test_every_kubelet_requests_a_serving_certificate_from_the_cluster_ca(
    prod: Evaluation,
) -> None:
    # kubeadm applies patches named "kubeletconfiguration[+patchtype].yaml" from the
    # patches directory (kubeadm >= 1.25) to the KubeletConfiguration it writes.
    kcfg = kcp_spec(prod)["kubeadmConfigSpec"]
    kct = prod.one("kubernetes:bootstrap.cluster.x-k8s.io/v1beta2:KubeadmConfigTemplate")
    workers = kct.inputs["spec"]["template"]["spec"]
    for spec, configs in (
        (kcfg, ("initConfiguration", "joinConfiguration")),
        (workers, ("joinConfiguration",)),
    ):
        for config in configs:
            directory = spec[config]["patches"]["directory"]
            patch = next(f for f in spec["files"] if f["path"].startswith(directory + "/"))
            assert patch["path"].rsplit("/", 1)[1].startswith("kubeletconfiguration")
            doc = yaml.safe_load(patch["content"])
            assert doc["kind"] == "KubeletConfiguration" and doc["serverTLSBootstrap"] is True


def test_audit_logging_is_wired_file_flags_rotation_and_volumes(prod: Evaluation) -> None:
    kcfg = kcp_spec(prod)["kubeadmConfigSpec"]
    api = kcfg["clusterConfiguration"]["apiServer"]
    flags = arg_map(api["extraArgs"])
    policy_file = next(f for f in kcfg["files"] if f["path"] == flags["audit-policy-file"])
    policy = yaml.safe_load(policy_file["content"])
    assert policy["kind"] == "Policy" and policy["apiVersion"] == "audit.k8s.io/v1"
    rules = policy["rules"]
    secrets_rule = next(
        i
        for i, r in enumerate(rules)
        if any("secrets" in g["resources"] for g in r.get("resources", []))
    )
    write_rule = next(i for i, r in enumerate(rules) if "create" in r.get("verbs", []))
    assert rules[secrets_rule]["level"] == "Metadata" and rules[write_rule]["level"] == "Request"
    assert secrets_rule < write_rule  # secret writes never log their content
    assert any(r["level"] == "None" and "/healthz*" in r.get("nonResourceURLs", []) for r in rules)
    assert {"audit-log-maxage", "audit-log-maxbackup", "audit-log-maxsize"} <= set(flags)
    mounts = {v["mountPath"]: v for v in api["extraVolumes"]}
    log_dir = flags["audit-log-path"].rsplit("/", 1)[0]
    assert mounts[log_dir]["readOnly"] is False
    assert any(flags["audit-policy-file"].startswith(m) for m in mounts)


def test_control_plane_metrics_listen_beyond_localhost(prod: Evaluation) -> None:
    cc = kcp_spec(prod)["kubeadmConfigSpec"]["clusterConfiguration"]
    assert arg_map(cc["etcd"]["local"]["extraArgs"])["listen-metrics-urls"].startswith(
        "http://0.0.0.0:"
    )
    assert arg_map(cc["controllerManager"]["extraArgs"])["bind-address"] == "0.0.0.0"
    assert arg_map(cc["scheduler"]["extraArgs"])["bind-address"] == "0.0.0.0"


def test_health_checks_cover_control_plane_and_workers(prod: Evaluation) -> None:
    mhcs = {r.k8s_name: r.inputs["spec"] for r in prod.of_type(CAPI + "MachineHealthCheck")}
    cp = mhcs["prod-control-plane-unhealthy"]
    assert cp["selector"]["matchLabels"] == {"cluster.x-k8s.io/control-plane": ""}
    workers = mhcs["prod-workers-unhealthy"]
    limit = workers["remediation"]["triggerIf"]["unhealthyLessThanOrEqualTo"]
    assert int(limit.rstrip("%")) < 100
    md_labels = prod.of_type(CAPI + "MachineDeployment")[0].inputs["spec"]["template"]["metadata"]
    assert workers["selector"]["matchLabels"].items() <= md_labels["labels"].items()
    # No remediation while nodes wait for their CNI.
    cilium = prod.chart("cilium")
    for r in prod.of_type(CAPI + "MachineHealthCheck"):
        assert cilium.urn in r.dependencies


def test_kcp_waits_for_available_and_the_target_version(prod: Evaluation) -> None:
    kcp = prod.one(KCP)
    assert "condition=Available" in kcp.metadata["annotations"]["pulumi.com/waitFor"]
    assert prod.outputs["kubernetesVersion"] in kcp.metadata["annotations"]["pulumi.com/waitFor"]


# ---- workload provider and deletion -----------------------------------------------------


def test_workload_provider_is_built_from_the_capi_kubeconfig_secret(prod: Evaluation) -> None:
    read = next(r for r in prod.resources if r.read and r.type == "kubernetes:core/v1:Secret")
    mgmt = prod.one("pulumi:providers:kubernetes", "prod-management")
    assert read.provider_urn == mgmt.urn and mgmt.inputs["context"] == "capi-mgmt"
    workload = prod.one("pulumi:providers:kubernetes", "prod-workload")
    assert plain(workload.inputs["kubeconfig"]) == FAKE_WORKLOAD_KUBECONFIG  # decoded from the read
    assert "kubeconfig" in workload.secret_paths
    assert workload.inputs["clusterIdentifier"] == "prod"
    assert "breakGlassKubeconfig" in prod.secret_outputs
    assert prod.outputs["apiEndpoint"] == "https://api.workload.example:6443"
    # Everything outside HAControlPlane deploys to the workload cluster.
    for r in prod.resources:
        comp = prod.component_of(r)
        if (
            r.type.startswith("kubernetes:")
            and comp
            and comp.type != "k8splatform:cluster:HAControlPlane"
        ):
            assert r.provider_urn == workload.urn, r.name


def test_deletion_goes_through_the_cluster_object(prod: Evaluation) -> None:
    cluster = prod.one(CAPI + "Cluster")
    assert cluster.delete_timeout == "45m"
    for r in [*capi_objects(prod), prod.one("kubernetes:core/v1:Secret", "prod-encryption-config")]:
        if r is not cluster:
            assert r.deleted_with == cluster.urn, r.name
    # The namespace outlives the Cluster: its deletion would delete everything at once.
    ns = prod.one("kubernetes:core/v1:Namespace", "prod")
    assert ns.urn in cluster.dependencies
    assert ns.metadata["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_machine_template_name_changes_when_its_spec_changes(prod: Evaluation) -> None:
    def spec(instance_type: str) -> dict[str, Any]:
        return capi_infra.aws_machine_template_spec(
            instance_type=instance_type,
            profile="nodes.cluster-api-provider-aws.sigs.k8s.io",
            ssh_key_name="prod-ssh",
            ami_id="ami-0123456789abcdef0",
            root_gb=100,
        )

    assert capi.spec_hash(spec("m6i.xlarge")) != capi.spec_hash(spec("m6i.2xlarge"))
    assert capi.spec_hash(spec("m6i.xlarge")) == capi.spec_hash(spec("m6i.xlarge"))
    worker = prod.one(INFRA + "AWSMachineTemplate", "prod-workers-template")
    assert worker.k8s_name == f"prod-workers-{capi.spec_hash(worker.inputs['spec'])}"


# ---- add-ons --------------------------------------------------------------------------


def test_cluster_autoscaler_runs_ha_next_to_capi_with_the_clusterapi_provider(
    prod: Evaluation,
) -> None:
    ca = prod.chart("prod-cluster-autoscaler")
    assert ca.inputs["version"] == "9.59.0"
    values = ca.inputs["values"]
    assert values["cloudProvider"] == "clusterapi"
    assert values["clusterAPIMode"] == "kubeconfig-incluster"
    assert values["clusterAPIKubeconfigSecret"] == "prod-autoscaler-kubeconfig"
    assert values["replicaCount"] == 2 and values["podDisruptionBudget"] == {"maxUnavailable": 1}
    assert ca.provider_urn == prod.one("pulumi:providers:kubernetes", "prod-management").urn
    assert prod.one(KCP).urn in ca.dependencies  # the kubeconfig Secret it mounts exists


def test_cilium_is_the_cni_with_ha_operator_and_hubble_metrics(prod: Evaluation) -> None:
    cilium = prod.chart("cilium")
    assert cilium.inputs["version"] == "1.20.0"
    v = cilium.inputs["values"]
    assert v["operator"]["replicas"] == 2
    assert v["policyEnforcementMode"] == "default"
    assert v["hubble"]["metrics"]["enabled"]
    assert v["hubble"]["metrics"]["serviceMonitor"]["enabled"] is False
    assert v["ipam"]["mode"] == "kubernetes"
    # The pinned chart's own values.yaml, wherever the chart sources are (make charts).
    chart_values = yaml.safe_load((chart_dir(CHARTS["cilium"]) / "values.yaml").read_text())

    def known(ours: Any, theirs: Any, path: str) -> None:
        if isinstance(ours, dict) and isinstance(theirs, dict) and theirs:
            for k, sub in ours.items():
                assert k in theirs, f"cilium values key {path}{k} does not exist"
                known(sub, theirs[k], f"{path}{k}.")

    known(v, chart_values, "")


# ---- docker variant and validation ------------------------------------------------------


def test_docker_variant_rehearses_ha_with_three_dev_failure_domains() -> None:
    e = evaluate(
        "prod",
        {"cluster.capi.infrastructure": "docker", "cluster.capi.aws": DELETE},
    )
    dev_cluster = e.one(INFRA + "DevCluster").inputs["spec"]
    fds = [fd["name"] for fd in dev_cluster["backend"]["docker"]["failureDomains"]]
    assert fds == ["fd1", "fd2", "fd3"]
    assert kcp_spec(e)["replicas"] == 3
    assert len(e.of_type(CAPI + "MachineDeployment")) == 3
    assert not e.of_type(INFRA + "AWSCluster")


def prod_raw(**overrides: Any) -> dict[str, Any]:
    from tools.offline import apply_overrides

    return apply_overrides(stack_config("prod"), overrides)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cluster.capi.controlPlane.replicas": 4}, r"controlPlane\.replicas: got 4; must be odd"),
        (
            {"cluster.capi.controlPlane.replicas": 1},
            r"controlPlane\.replicas: got 1; prod needs at least 3",
        ),
        (
            {"cluster.capi.aws.apiAllowedCidrs": ["0.0.0.0/0"]},
            r"apiAllowedCidrs: got \['0\.0\.0\.0/0'\]; prod requires an API allow-list",
        ),
        (
            {"cluster.capi.aws.availabilityZones": ["eu-west-1a", "eu-west-1b"]},
            r"availabilityZones: got .*at least 3 availability zones",
        ),
        (
            {"cluster.kubernetesVersion": "v1.30.4"},
            r"capi/aws mode .*v1\.33\.\.v1\.35; v1\.30 is outside what cluster-api v1\.14\.2",
        ),
        (
            {"cluster.capi.aws.managementEgressCidrs": []},
            r"managementEgressCidrs: got \[\]; required",
        ),
    ],
)
def test_unsafe_capi_settings_are_rejected(overrides: dict[str, Any], message: str) -> None:
    raw = prod_raw(**{k: v for k, v in overrides.items()})
    with pytest.raises(SettingsError, match=message):
        load(raw, "prod")


def test_even_replicas_are_rejected_in_dev_too() -> None:
    raw = prod_raw(**{"profile": "dev", "cluster.capi.controlPlane.replicas": 2})
    with pytest.raises(SettingsError, match="must be odd"):
        load(raw, "prod")


def test_open_api_in_prod_needs_an_explicit_accept_risks_entry() -> None:
    raw = prod_raw(
        **{
            "cluster.capi.aws.apiAllowedCidrs": ["0.0.0.0/0"],
            "acceptRisks": ["cluster.capi.aws.apiAllowedCidrs"],
        }
    )
    s = load(raw, "prod")
    assert s.cluster.capi and s.cluster.capi.aws
    assert "198.51.100.7/32" in s.cluster.capi.aws.ingress_cidrs

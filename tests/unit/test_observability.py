"""ObservabilityStack: metrics, alerting, logs, dashboards and their safety properties."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import kubernetes_validate
import pytest
import yaml

from components.observability.names import RECEIVERS_MOUNT
from kernel.config import cpu_millis, memory_bytes
from tests.helpers import chart_values
from tools.offline import SECRET_SIG, SIG_KEY, Evaluation, evaluate, manifest

# Fake credentials the override stacks carry; none may ever appear in chart values.
FAKE = {
    "pd-key": "FAKE-pagerduty-routing-key-0001",
    "slack-url": "https://hooks.slack.example/FAKE-slack-0002",
    "smtp-pass": "FAKE-smtp-password-0003",
    "hook-url": "https://hooks.example/FAKE-webhook-0004",
    "dms-url": "https://hc-ping.example/FAKE-deadman-0005",
    "loki-key-id": "FAKEACCESSKEYID0006",
    "loki-key": "FAKE-secret-access-key-0007",
}
RECEIVERS = [
    {"name": "oncall", "type": "pagerduty", "secret": "pd-key", "severities": ["critical"]},
    {"name": "chat", "type": "slack", "secret": "slack-url", "channel": "#alerts"},
    {
        "name": "mail",
        "type": "email",
        "secret": "smtp-pass",
        "to": "ops@example.com",
        "from": "alerts@example.com",
        "smarthost": "smtp.example.com:587",
        "username": "alerts",
    },
    {"name": "hook", "type": "webhook", "secret": "hook-url", "severities": ["warning"]},
]
WITH_CREDENTIALS = {
    "secrets": FAKE,
    "observability.alerting": {"receivers": RECEIVERS, "deadMansSwitchSecret": "dms-url"},
    "observability.loki.objectStore": {
        "bucket": "logs",
        "region": "eu-central-1",
        "endpoint": "https://s3.lab.example:9000",
        "accessKeyIdSecret": "loki-key-id",
        "secretAccessKeySecret": "loki-key",
    },
}


@pytest.fixture(scope="module")
def prod_creds() -> Evaluation:
    return evaluate("prod", WITH_CREDENTIALS)


def unwrap(value: Any) -> Any:
    """A secret input is recorded as the engine's secret envelope; return what it wraps."""
    if isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG:
        return value["value"]
    return value


def walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, f"{path}.{k}" if path else str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{path}[{i}]")


# ---- metrics ------------------------------------------------------------------------------


def test_operator_crds_are_their_own_chart_and_kps_waits_for_them(stack: Evaluation) -> None:
    crds = stack.chart("prometheus-operator-crds")
    assert crds.inputs["version"] == "31.0.1"
    kps = stack.chart("kps")
    assert kps.inputs["version"] == "88.5.3"
    assert chart_values(stack, "kps")["crds"] == {"enabled": False}
    assert crds.urn in kps.dependencies
    assert crds.urn in stack.chart("loki").dependencies


def test_prometheus_picks_up_every_monitor_and_rule_not_only_release_labelled(
    stack: Evaluation,
) -> None:
    spec = chart_values(stack, "kps")["prometheus"]["prometheusSpec"]
    for kind in ("rule", "serviceMonitor", "podMonitor", "probe", "scrapeConfig"):
        assert spec[f"{kind}SelectorNilUsesHelmValues"] is False, kind


def test_prod_prometheus_is_ha_spread_over_zones_with_a_pdb(prod: Evaluation) -> None:
    prom = chart_values(prod, "kps")["prometheus"]
    spec = prom["prometheusSpec"]
    assert spec["replicas"] >= 2
    assert spec["podAntiAffinity"] == "hard"
    assert spec["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"
    assert prom["podDisruptionBudget"]["enabled"] is True


def test_dev_prometheus_is_a_single_replica_without_spread(dev: Evaluation) -> None:
    prom = chart_values(dev, "kps")["prometheus"]
    assert prom["prometheusSpec"]["replicas"] == 1
    assert prom["prometheusSpec"]["topologySpreadConstraints"] == []
    assert prom["podDisruptionBudget"]["enabled"] is False


def test_retention_size_stays_below_the_volume_size(stack: Evaluation) -> None:
    spec = chart_values(stack, "kps")["prometheus"]["prometheusSpec"]
    volume = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    size = spec["retentionSize"]
    assert size.endswith("iB")
    assert memory_bytes(size[:-1]) <= 0.85 * memory_bytes(
        volume["resources"]["requests"]["storage"]
    )
    assert volume["storageClassName"] == stack.outputs["defaultStorageClass"]


def test_a_retention_size_too_close_to_the_volume_is_rejected() -> None:
    with pytest.raises(Exception, match=r"observability.prometheus.retentionSize.*85%"):
        evaluate(
            "dev", {"observability.prometheus": {"volumeSize": "10Gi", "retentionSize": "9Gi"}}
        )


def test_control_plane_targets_are_scraped_only_where_reachable(
    dev: Evaluation, prod: Evaluation
) -> None:
    # existing mode (kind, managed): no etcd/scheduler/controller-manager targets, so no
    # permanent false alerts; capi mode (prod) binds them where Prometheus can reach them.
    for ev, expected in ((dev, False), (prod, True)):
        kps = chart_values(ev, "kps")
        for target in ("kubeEtcd", "kubeScheduler", "kubeControllerManager"):
            assert kps[target]["enabled"] is expected, target
        assert kps["defaultRules"]["rules"]["etcd"] is expected
        groups = []
        for rule in ev.resources:
            if rule.inputs.get("kind") == "PrometheusRule":
                groups = [*groups, *rule.inputs["spec"]["groups"]]
        alerts = {r["alert"] for g in groups for r in g["rules"]}
        assert ("EtcdSnapshotTooOld" in alerts) is expected


def test_node_exporter_runs_in_its_privileged_namespace(stack: Evaluation) -> None:
    ne = chart_values(stack, "kps")["prometheus-node-exporter"]
    assert ne["namespaceOverride"] == "node-exporter"


def test_metrics_server_skips_kubelet_tls_only_on_kind(dev: Evaluation, prod: Evaluation) -> None:
    assert chart_values(dev, "metrics-server")["args"] == ["--kubelet-insecure-tls"]
    prod_ms = chart_values(prod, "metrics-server")
    # prod verifies kubelet serving certificates against the cluster CA, which signs
    # kubernetes.io/kubelet-serving CSRs (kubeadm: --cluster-signing-cert-file).
    assert prod_ms["args"] == [
        "--kubelet-certificate-authority=/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
    ]
    assert prod_ms["replicas"] == 2
    assert prod_ms["podDisruptionBudget"]["enabled"] is True


# ---- alerting -----------------------------------------------------------------------------


def test_prod_alertmanager_has_three_spread_replicas_and_a_pdb(prod: Evaluation) -> None:
    am = chart_values(prod, "kps")["alertmanager"]
    assert am["alertmanagerSpec"]["replicas"] == 3
    assert am["alertmanagerSpec"]["topologySpreadConstraints"][0]["topologyKey"].endswith("zone")
    assert am["podDisruptionBudget"]["enabled"] is True


def test_receivers_come_from_settings_and_read_credentials_from_files(
    prod_creds: Evaluation,
) -> None:
    am = chart_values(prod_creds, "kps")["alertmanager"]
    config = am["config"]
    by_name = {r["name"]: r for r in config["receivers"]}
    assert set(by_name) == {"null", "deadmansswitch", "oncall", "chat", "mail", "hook"}
    assert by_name["oncall"]["pagerduty_configs"][0]["routing_key_file"] == (
        f"{RECEIVERS_MOUNT}/oncall"
    )
    assert by_name["chat"]["slack_configs"][0]["api_url_file"].endswith("/chat")
    assert by_name["chat"]["slack_configs"][0]["channel"] == "#alerts"
    assert by_name["mail"]["email_configs"][0]["auth_password_file"].endswith("/mail")
    assert by_name["hook"]["webhook_configs"][0]["url_file"].endswith("/hook")
    assert am["alertmanagerSpec"]["secrets"] == ["alertmanager-receivers"]
    routes = {r["receiver"]: r for r in config["route"]["routes"]}
    assert routes["oncall"]["matchers"] == ['severity =~ "critical"']
    assert routes["hook"]["matchers"] == ['severity =~ "warning"']
    assert routes["deadmansswitch"]["matchers"] == ['alertname = "Watchdog"']
    assert config["inhibit_rules"][0]["source_matchers"] == ['severity = "critical"']


def test_receiver_credentials_live_only_in_a_kubernetes_secret(prod_creds: Evaluation) -> None:
    secret = next(
        r
        for r in prod_creds.of_type("kubernetes:core/v1:Secret")
        if r.k8s_name == "alertmanager-receivers"
    )
    data = unwrap(secret.inputs["stringData"])
    assert set(data) == {"oncall", "chat", "mail", "hook", "deadmansswitch"}
    assert unwrap(data["oncall"]) == FAKE["pd-key"]
    assert secret.secret_paths


def test_no_plaintext_credential_in_any_chart_values(
    dev: Evaluation, prod: Evaluation, prod_creds: Evaluation
) -> None:
    # Keys whose value is the *name* of a Kubernetes Secret, not a credential.
    SECRET_NAME_KEYS = {"existingSecret", "clusterAPIKubeconfigSecret"}
    credential_key = re.compile(
        r"(password|secret|apikey|api_key|token|routing_key|accesskey|secretaccesskey)$", re.I
    )
    for ev in (dev, prod, prod_creds):
        for c in ev.charts():
            text = json.dumps(c.inputs["values"])
            for fake in FAKE.values():
                assert fake not in text, f"{ev.stack}/{c.name} leaks a credential"
            for path, node in walk(c.inputs["values"]):
                leaf = path.rsplit(".", 1)[-1]
                if credential_key.search(leaf) and isinstance(node, str) and node:
                    # only references: env placeholders or names of Secrets
                    assert node.startswith("${") or leaf in SECRET_NAME_KEYS, (
                        f"{ev.stack}/{c.name}: {path}={node!r}"
                    )


def test_velero_is_scraped_where_it_runs(stack: Evaluation) -> None:
    monitor = stack.one("kubernetes:monitoring.coreos.com/v1:PodMonitor", "velero-metrics")
    assert monitor.namespace == "velero"
    assert monitor.inputs["spec"]["podMetricsEndpoints"][0]["portNumber"] == 8085


def test_platform_alerts_cover_backups_certificates_storage_images_and_logs(
    stack: Evaluation,
) -> None:
    platform = stack.one("kubernetes:monitoring.coreos.com/v1:PrometheusRule", "platform-alerts")
    groups = platform.inputs["spec"]["groups"]
    # Backup alerts: PersistenceLayer's rules (per-schedule thresholds), loaded here.
    velero = stack.one("kubernetes:monitoring.coreos.com/v1:PrometheusRule", "velero-alerts")
    groups = groups + velero.inputs["spec"]["groups"]
    exprs = " ".join(r["expr"] for g in groups for r in g["rules"])
    for metric in (
        "velero_backup_last_status",
        "velero_backup_last_successful_timestamp",
        "certmanager_certificate_expiration_timestamp_seconds",
        "kubelet_volume_stats_available_bytes",
        'trivy_image_vulnerabilities{severity="Critical"}',
        "loki_discarded_samples_total",
        "loki_request_duration_seconds_count",
    ):
        assert metric in exprs, metric
    for g in groups:
        for r in g["rules"]:
            assert r["labels"]["severity"] in {"critical", "warning"}


# ---- logs ---------------------------------------------------------------------------------


def test_dev_loki_is_monolithic_on_the_filesystem_without_caches(dev: Evaluation) -> None:
    loki = chart_values(dev, "loki")
    assert (
        dev.chart("loki")
        .inputs["repositoryOpts"]["repo"]
        .startswith("https://grafana-community.github.io")
    )
    assert loki["deploymentMode"] == "Monolithic"
    assert loki["singleBinary"]["replicas"] == 1
    assert loki["loki"]["commonConfig"]["replication_factor"] == 1
    assert loki["loki"]["storage"]["type"] == "filesystem"
    assert loki["loki"]["schemaConfig"]["configs"][0]["object_store"] == "filesystem"
    assert loki["chunksCache"]["enabled"] is False
    assert loki["resultsCache"]["enabled"] is False
    assert loki["lokiCanary"]["enabled"] is False
    assert loki["test"]["enabled"] is False


def test_prod_loki_is_replicated_on_object_storage_spread_over_zones(prod: Evaluation) -> None:
    loki = chart_values(prod, "loki")
    single = loki["singleBinary"]
    assert single["replicas"] == 3
    assert loki["loki"]["commonConfig"]["replication_factor"] == 3
    assert loki["loki"]["storage"]["type"] == "s3"
    assert loki["loki"]["storage"]["bucketNames"]["chunks"] == "prod-platform-loki"
    assert loki["loki"]["compactor"]["delete_request_store"] == "s3"
    assert single["podDisruptionBudget"]["enabled"] is True
    assert single["topologySpreadConstraints"][0]["topologyKey"].endswith("zone")


def test_loki_object_store_keys_come_from_a_secret_through_env_expansion(
    prod_creds: Evaluation,
) -> None:
    loki = chart_values(prod_creds, "loki")
    s3 = loki["loki"]["storage"]["s3"]
    assert s3["accessKeyId"] == "${AWS_ACCESS_KEY_ID}"
    assert s3["endpoint"] == "https://s3.lab.example:9000"
    assert loki["singleBinary"]["extraArgs"] == ["-config.expand-env=true"]
    assert loki["singleBinary"]["extraEnvFrom"] == [{"secretRef": {"name": "loki-object-store"}}]
    egress = next(
        r
        for r in prod_creds.of_type("kubernetes:cilium.io/v2:CiliumNetworkPolicy")
        if r.k8s_name == "loki-object-store"
    )
    # The named endpoint on its own port (toFQDNs, fed by the DNS rule before it).
    rule = egress.inputs["spec"]["egress"][1]
    assert rule["toFQDNs"] == [{"matchName": "s3.lab.example"}]
    assert rule["toPorts"][0]["ports"] == [{"port": "9000", "protocol": "TCP"}]


def test_loki_in_cluster_object_store_is_reached_pod_to_pod_on_its_port() -> None:
    """An endpoint inside the cluster (a Service name) is a pod to a selector: a plain
    NetworkPolicy toward any namespace on 443 and the endpoint's own port, no toFQDNs."""
    ev = evaluate(
        "dev",
        {
            "observability.loki.objectStore": {
                "bucket": "logs",
                "region": "eu-central-1",
                "endpoint": "https://minio.objectstore.svc:9000",
            }
        },
    )
    egress = next(
        r
        for r in ev.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if r.k8s_name == "loki-object-store"
    )
    assert egress.name == "observability-loki-object-store"
    assert egress.inputs["spec"]["egress"][0]["to"] == [{"namespaceSelector": {}}]
    ports = {p["port"] for p in egress.inputs["spec"]["egress"][0]["ports"]}
    assert ports == {443, 9000}
    cnps = {r.k8s_name for r in ev.of_type("kubernetes:cilium.io/v2:CiliumNetworkPolicy")}
    assert "loki-object-store" not in cnps


def test_loki_replication_factor_above_replicas_is_rejected() -> None:
    with pytest.raises(Exception, match=r"observability.loki.replicationFactor.*at most"):
        evaluate("dev", {"observability.loki": {"replicationFactor": 2}})


def test_alloy_ships_pod_logs_with_kubernetes_labels_to_the_loki_gateway(
    stack: Evaluation,
) -> None:
    alloy = chart_values(stack, "alloy")
    assert alloy["controller"]["type"] == "daemonset"
    config = alloy["alloy"]["configMap"]["content"]
    assert 'loki.source.kubernetes "pods"' in config
    for label in ("namespace", "pod", "container", "app"):
        assert f'target_label  = "{label}"' in config
    assert "http://loki-gateway.logging.svc.cluster.local/loki/api/v1/push" in config
    assert stack.outputs["lokiPushUrl"] in config


# ---- Grafana ------------------------------------------------------------------------------


def test_grafana_runs_one_replica_because_its_sqlite_is_not_shared(
    dev: Evaluation, prod: Evaluation
) -> None:
    # Two replicas on their own SQLite lose sessions and UI changes at random (issue 11).
    assert chart_values(dev, "kps")["grafana"]["replicas"] == 1
    g = chart_values(prod, "kps")["grafana"]
    assert g["replicas"] == 1
    assert g["persistence"]["enabled"] is False


def test_grafana_has_prometheus_loki_and_alertmanager_datasources(stack: Evaluation) -> None:
    g = chart_values(stack, "kps")["grafana"]
    ds = g["sidecar"]["datasources"]
    assert ds["defaultDatasourceEnabled"] is True
    assert ds["alertmanager"]["enabled"] is True
    (loki,) = g["additionalDataSources"]
    assert loki["type"] == "loki"
    assert loki["url"] == "http://loki-gateway.logging.svc.cluster.local"


def test_grafana_admin_credentials_are_generated_into_a_secret(stack: Evaluation) -> None:
    g = chart_values(stack, "kps")["grafana"]
    assert g["admin"]["existingSecret"] == stack.outputs["grafanaAdminSecret"] == "grafana-admin"
    secret = next(
        r for r in stack.of_type("kubernetes:core/v1:Secret") if r.k8s_name == "grafana-admin"
    )
    assert secret.secret_paths
    assert set(unwrap(secret.inputs["stringData"])) == {"admin-user", "admin-password"}
    assert stack.of_type("random:index/randomPassword:RandomPassword")
    assert "adminPassword" not in g


def test_platform_dashboards_are_valid_json_with_real_queries(stack: Evaluation) -> None:
    maps = [
        r
        for r in stack.of_type("kubernetes:core/v1:ConfigMap")
        if r.metadata.get("labels", {}).get("grafana_dashboard") == "1"
    ]
    assert {m.k8s_name for m in maps} >= {
        "dashboard-platform-logs",
        "dashboard-platform-backups",
        "dashboard-platform-health",
    }
    for m in maps:
        (body,) = m.inputs["data"].values()
        board = json.loads(body)
        assert board["uid"] and board["panels"]
        for panel in board["panels"]:
            assert panel["targets"][0]["expr"].strip()
            assert panel["datasource"]["uid"] in {"prometheus", "loki"}
    # Grafana's sidecar watches its own namespace only (a Role, no cluster-wide Secret read):
    # every dashboard must live there.
    grafana = chart_values(stack, "kps")["grafana"]
    assert grafana["rbac"]["namespaced"] is True
    assert "searchNamespace" not in grafana["sidecar"]["dashboards"]
    assert {unwrap(m.metadata.get("namespace")) for m in maps} == {"monitoring"}


# ---- hooks, resources, policies, outputs --------------------------------------------------


def test_hook_based_features_are_off_because_chart_v4_skips_hooks(dev: Evaluation) -> None:
    kps = chart_values(dev, "kps")
    webhooks = kps["prometheusOperator"]["admissionWebhooks"]
    # The hook Jobs that would create the webhook certificate never run under Chart v4:
    # cert-manager issues it from the platform's internal CA instead.
    assert webhooks["patch"]["enabled"] is False
    assert webhooks["certManager"]["enabled"] is True
    assert webhooks["certManager"]["issuerRef"] == {"name": "platform-ca", "kind": "ClusterIssuer"}
    assert kps["grafana"]["testFramework"]["enabled"] is False
    assert chart_values(dev, "loki")["test"]["enabled"] is False


def resource_blocks(ev: Evaluation) -> Iterator[tuple[str, dict[str, Any]]]:
    """Resource blocks in the values of the charts this component installs."""
    for c in ev.charts():
        owner = ev.component_of(c)
        if owner is None or owner.type != "k8splatform:observability:ObservabilityStack":
            continue
        for path, node in walk(c.inputs["values"]):
            if (
                path.endswith("resources")
                and isinstance(node, dict)
                and "cpu" in node.get("requests", {})
            ):
                yield f"{c.name}:{path}", node


def test_every_workload_has_requests_and_limits(stack: Evaluation) -> None:
    blocks = dict(resource_blocks(stack))
    for path in (
        "kps:prometheusOperator.resources",
        "kps:prometheusOperator.prometheusConfigReloader.resources",
        "kps:prometheus.prometheusSpec.resources",
        "kps:alertmanager.alertmanagerSpec.resources",
        "kps:grafana.resources",
        "kps:grafana.sidecar.resources",
        "kps:kube-state-metrics.resources",
        "kps:prometheus-node-exporter.resources",
        "loki:singleBinary.resources",
        "loki:gateway.resources",
        "alloy:alloy.resources",
        "alloy:configReloader.resources",
        "metrics-server:resources",
    ):
        assert path in blocks, path
    for path, block in blocks.items():
        assert set(block["requests"]) == set(block["limits"]) == {"cpu", "memory"}, path


def test_dev_requests_fit_a_laptop_share(dev: Evaluation) -> None:
    """About 1 vCPU / 2 GiB for all of observability (DaemonSets counted for two nodes)."""
    copies = {
        "kps:prometheus-node-exporter.resources": 2,  # DaemonSet, two kind nodes
        "alloy:alloy.resources": 2,
        "alloy:configReloader.resources": 2,
        "kps:grafana.sidecar.resources": 2,  # dashboards + datasources sidecars
        "kps:prometheusOperator.prometheusConfigReloader.resources": 2,  # Prometheus + AM
    }
    cpu = mem = 0
    for path, block in resource_blocks(dev):
        n = copies.get(path, 1)
        cpu += n * cpu_millis(block["requests"]["cpu"])
        mem += n * memory_bytes(block["requests"]["memory"])
    assert cpu <= 1000, cpu
    assert mem <= 2 * 2**30, mem / 2**20


def test_network_policies_open_what_the_addons_need(prod_creds: Evaluation) -> None:
    """Pod to pod: NetworkPolicy. Nodes, the API server and the outside: Cilium entities
    and names (the flow contract, tests/contract/test_contract_flows.py, checks the flows)."""
    policies = {
        r.k8s_name: r for r in prod_creds.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    }
    cnps = {
        r.k8s_name: r for r in prod_creds.of_type("kubernetes:cilium.io/v2:CiliumNetworkPolicy")
    }
    assert {"prometheus-scrape", "grafana-to-loki", "loki-gateway-from-grafana"} <= set(policies)
    assert {"prometheus-scrape-nodes", "alertmanager-receivers", "loki-object-store"} <= set(cnps)
    assert "gateway-to-ui" not in policies and "apiserver-egress" not in policies
    hosts = cnps["prometheus-scrape-nodes"].inputs["spec"]["egress"][0]
    assert hosts["toEntities"] == ["host", "remote-node"]
    assert {"port": "9100", "protocol": "TCP"} in hosts["toPorts"][0]["ports"]
    am = cnps["alertmanager-receivers"].inputs["spec"]["egress"][0]
    assert am["toEntities"] == ["world"]
    assert {p["port"] for p in am["toPorts"][0]["ports"]} == {"443", "587"}


def test_own_kubernetes_objects_validate_against_the_schema(prod_creds: Evaluation) -> None:
    for r in prod_creds.k8s_objects():
        owner = prod_creds.component_of(r)
        builtin = not r.type.startswith(  # CRs: the API server tier
            ("kubernetes:monitoring.coreos.com/", "kubernetes:cilium.io/")
        )
        if builtin and owner and owner.type == "k8splatform:observability:ObservabilityStack":
            doc = yaml.safe_load(yaml.safe_dump(manifest(r)))
            kubernetes_validate.validate(doc, "1.35", strict=True)


def test_observability_outputs_are_exported(stack: Evaluation) -> None:
    out = stack.outputs
    assert out["grafanaUrl"] == "http://kps-grafana.monitoring.svc.cluster.local"
    assert out["prometheusUrl"] == "http://kps-prometheus.monitoring.svc.cluster.local:9090"
    assert out["alertmanagerUrl"] == "http://kps-alertmanager.monitoring.svc.cluster.local:9093"
    assert out["lokiPushUrl"].endswith("/loki/api/v1/push")
    assert out["grafanaAdminSecret"] == "grafana-admin"


def test_an_email_receiver_needs_its_addresses_and_a_known_secret() -> None:
    bad = {"name": "mail", "type": "email", "secret": "smtp-pass"}
    with pytest.raises(Exception, match=r"receivers\[0\]\.to: got <missing>") as err:
        evaluate("dev", {"observability.alerting": {"receivers": [bad]}})
    assert "no secret 'smtp-pass'" in str(err.value)


def test_half_a_pair_of_object_store_keys_is_rejected() -> None:
    store = {"bucket": "b", "region": "r", "accessKeyIdSecret": "loki-key-id"}
    with pytest.raises(Exception, match="set both accessKeyIdSecret and secretAccessKeySecret"):
        evaluate(
            "dev",
            {"secrets": {"loki-key-id": "x"}, "observability.loki.objectStore": store},
        )

"""Composition root: settings -> cluster -> security -> persistence -> observability -> edge."""

import pulumi

from components import edge as edge_gw
from components import namespaces as ns
from components.control_plane import HAControlPlane, HAControlPlaneArgs
from components.observability import ObservabilityStack, ObservabilityStackArgs
from components.persistence import PersistenceLayer, PersistenceLayerArgs
from components.security import SecurityBaseline, SecurityBaselineArgs
from components.settings import from_pulumi

# Validates every setting before a single resource is registered.
cfg = from_pulumi()

cluster = HAControlPlane("cluster", HAControlPlaneArgs(settings=cfg.cluster))

security = SecurityBaseline(
    "security",
    SecurityBaselineArgs(
        settings=cfg.security,
        provider=cluster.provider,
        pod_security_version=cfg.cluster.kubernetes_minor,
    ),
)

persistence = PersistenceLayer(
    "persistence",
    PersistenceLayerArgs(settings=cfg.persistence, provider=cluster.provider),
)

observability = ObservabilityStack(
    "observability",
    ObservabilityStackArgs(
        settings=cfg.observability,
        provider=cluster.provider,
        namespace=security.namespaces[ns.MONITORING],
        storage_class=persistence.default_storage_class,
    ),
)

# Backends follow kube-prometheus-stack's names for a release called `kube-prometheus-stack`
# until ObservabilityStack exposes its services; cluster_issuer likewise for SecurityBaseline.
edge = edge_gw.EdgeGateway(
    "edge",
    edge_gw.EdgeGatewayArgs(
        settings=cfg.edge,
        provider=cluster.provider,
        namespace=security.namespaces[ns.GATEWAY],
        cluster_issuer=edge_gw.placeholder_cluster_issuer(cfg.profile),
        grafana=edge_gw.Backend(
            "kube-prometheus-stack-grafana",
            security.namespaces[ns.MONITORING],
            80,
            target_port=3000,
            pod_labels={"app.kubernetes.io/name": "grafana"},
        ),
        prometheus=edge_gw.Backend(
            "kube-prometheus-stack-prometheus",
            security.namespaces[ns.MONITORING],
            9090,
            pod_labels={"app.kubernetes.io/name": "prometheus"},
        ),
        alertmanager=edge_gw.Backend(
            "kube-prometheus-stack-alertmanager",
            security.namespaces[ns.MONITORING],
            9093,
            pod_labels={"app.kubernetes.io/name": "alertmanager"},
        ),
        depends_on=(security,),
    ),
)

pulumi.export("profile", cfg.profile)
pulumi.export("clusterName", cluster.cluster_name)
pulumi.export("apiEndpoint", cluster.api_endpoint)
pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("kubernetesVersion", cluster.kubernetes_version)
pulumi.export("controlPlaneReplicas", cluster.control_plane_replicas)
pulumi.export("failureDomains", cluster.failure_domains)
pulumi.export("platformNamespaces", security.namespaces)
pulumi.export("tenantNamespaces", security.tenant_namespaces)
pulumi.export("defaultStorageClass", persistence.default_storage_class)
pulumi.export("gatewayAddress", edge.gateway_address)
pulumi.export("grafanaPublicUrl", edge.grafana_url)
pulumi.export("prometheusPublicUrl", edge.prometheus_url)
pulumi.export("alertmanagerPublicUrl", edge.alertmanager_url)
pulumi.export("edgeBasicAuthSecret", edge.basic_auth_secret)

"""HAControlPlane: the cluster every other component deploys to.

`existing` mode targets a running cluster (kind on a laptop, or any kube context).
`capi` mode provisions an upstream kubeadm cluster through Cluster API.
Either way the component exposes one Kubernetes provider for the workload cluster.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import yaml

from components import capi_objects as capi
from kernel import kube
from kernel.catalogue import chart
from kernel.contracts import HookFactory, LateBound

TYPE_TOKEN = "k8splatform:cluster:HAControlPlane"

EXISTING = "existing"
CAPI = "capi"
MODES = (EXISTING, CAPI)


@dataclass(frozen=True)
class ExistingClusterSettings:
    kubeconfig: str | None
    """The path the user set, or None to let each machine use its own default."""
    context: str
    server: str
    minified_kubeconfig: str
    """One-context kubeconfig read at plan time; only ever published as a secret."""


@dataclass(frozen=True)
class CapiAwsSettings:
    region: str
    availability_zones: tuple[str, ...]
    """Failure domains: one MachineDeployment each; CAPA spreads the control plane too."""
    ssh_key_name: str
    ami_id: str
    api_allowed_cidrs: tuple[str, ...]
    management_egress_cidrs: tuple[str, ...]
    bastion: bool
    preflight: bool

    @property
    def ingress_cidrs(self) -> tuple[str, ...]:
        """The NLB allow-list: users' CIDRs plus the management cluster (deduplicated)."""
        return tuple(dict.fromkeys(self.api_allowed_cidrs + self.management_egress_cidrs))


@dataclass(frozen=True)
class CapiDockerSettings:
    failure_domains: tuple[str, ...]


@dataclass(frozen=True)
class CapiSettings:
    management_kubeconfig: str | None
    management_context: str
    namespace: str
    create_namespace: bool
    infrastructure: str
    control_plane_replicas: int
    control_plane_instance_type: str
    worker_instance_type: str
    workers_min_per_zone: int
    workers_max_per_zone: int
    max_unhealthy_workers: str
    autoscaler_replicas: int
    cilium_operator_replicas: int
    pods_cidr: str
    services_cidr: str
    aws: CapiAwsSettings | None = None
    docker: CapiDockerSettings | None = None

    @property
    def failure_domains(self) -> tuple[str, ...]:
        if self.aws is not None:
            return self.aws.availability_zones
        return self.docker.failure_domains if self.docker else ()


@dataclass(frozen=True)
class ClusterSettings:
    name: str
    mode: str
    kubernetes_version: str
    existing: ExistingClusterSettings | None = None
    capi: CapiSettings | None = None

    @property
    def kubernetes_minor(self) -> str:
        """'v1.34.2' -> 'v1.34' (Pod Security labels and validators use the minor)."""
        return ".".join(self.kubernetes_version.split(".")[:2])


@dataclass(frozen=True)
class HAControlPlaneArgs:
    settings: ClusterSettings
    before_upgrade: tuple[HookFactory, ...] = field(default=())
    """capi mode: `before_update` hooks on the KubeadmControlPlane (e.g. a backup before
    the version changes); each factory gets the workload kubeconfig, bound once known."""


class HAControlPlane(pulumi.ComponentResource):
    provider: k8s.Provider
    """Kubernetes provider for the workload cluster; pass it to every other component."""
    cluster_name: pulumi.Output[str]
    api_endpoint: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    kubernetes_version: pulumi.Output[str]
    control_plane_replicas: pulumi.Output[int | None]
    failure_domains: pulumi.Output[list[str]]
    control_plane_metrics: bool
    """True when etcd, scheduler and controller-manager metrics are reachable."""
    etcd_snapshots: bool
    """True when etcd runs on control-plane nodes we control (stacked etcd, capi mode)."""

    def __init__(
        self, name: str, args: HAControlPlaneArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        s = args.settings
        if s.mode == EXISTING:
            self._existing(s)
        else:
            self._capi(s, args.before_upgrade)
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "api_endpoint": self.api_endpoint,
                "kubeconfig": self.kubeconfig,
                "kubernetes_version": self.kubernetes_version,
                "control_plane_replicas": self.control_plane_replicas,
                "failure_domains": self.failure_domains,
            }
        )

    def _existing(self, s: ClusterSettings) -> None:
        assert s.existing is not None
        e = s.existing
        # A stable identifier: a kubeconfig change (new kind certs, another laptop)
        # becomes a provider update instead of replacing every object it manages.
        self.provider = k8s.Provider(
            f"{s.name}-cluster",
            kubeconfig=e.kubeconfig,
            context=e.context,
            cluster_identifier=f"{s.name}",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.cluster_name = pulumi.Output.from_input(s.name)
        self.api_endpoint = pulumi.Output.from_input(e.server)
        self.kubeconfig = pulumi.Output.secret(e.minified_kubeconfig)
        self.kubernetes_version = pulumi.Output.from_input(s.kubernetes_version)
        # Unknown for a cluster we did not build; never guessed.
        self.control_plane_replicas = pulumi.Output.from_input(None)
        self.failure_domains = pulumi.Output.from_input([])
        # kind and most managed clusters bind these to 127.0.0.1 (or hide them).
        self.control_plane_metrics = False
        self.etcd_snapshots = False

    # ---- capi mode ---------------------------------------------------------------------

    def _capi(self, s: ClusterSettings, before_upgrade: tuple[HookFactory, ...]) -> None:
        assert s.capi is not None
        c = s.capi
        name, ns = s.name, c.namespace
        aws = c.aws
        kinds = capi.INFRA_KINDS[c.infrastructure]
        mgmt = k8s.Provider(
            f"{name}-management",
            kubeconfig=c.management_kubeconfig,
            context=c.management_context,
            cluster_identifier=f"{name}-management",
            opts=pulumi.ResourceOptions(parent=self),
        )
        on_mgmt = kube.child_opts(self, mgmt)
        cluster_deps: list[pulumi.Resource] = []
        if c.create_namespace:
            namespace = kube.isolated_namespace(
                ns,
                pod_security="restricted",
                # Pinned like every namespace: CAPI keeps the management cluster within a
                # few minors of the workload one, and a newer label reads as "latest".
                pod_security_version=s.kubernetes_minor,
                opts=on_mgmt,
                labels={"cluster.x-k8s.io/cluster-name": name},
            )
            cluster_deps.append(namespace)

        def meta(obj: str, **extra: Any) -> Any:
            return {"name": obj, "namespace": ns, "labels": dict(kube.MANAGED_BY), **extra}

        # Deleting the Cluster is the only supported way down: CAPI tears machines,
        # templates and cloud resources down in order through ownerRefs. Pulumi waits
        # for the 404 (finalizers done); children are skipped via deleted_with.
        cluster = k8s.apiextensions.CustomResource(
            f"{name}-cluster",
            api_version=capi.CLUSTER_API,
            kind="Cluster",
            metadata=meta(
                name,
                annotations={"pulumi.com/waitFor": "condition=ControlPlaneAvailable"},
            ),
            spec=capi.cluster_spec(
                name=name,
                infra_kind=kinds.cluster,
                pods_cidr=c.pods_cidr,
                services_cidr=c.services_cidr,
            ),
            opts=kube.child_opts(
                self,
                mgmt,
                depends_on=cluster_deps,
                custom_timeouts=pulumi.CustomTimeouts(create="60m", update="60m", delete="45m"),
            ),
        )
        child = kube.child_opts(self, mgmt, deleted_with=cluster)

        def cr(resource: str, api: str, kind: str, obj: str, spec: Any, **kw: Any) -> Any:
            opts = (
                child
                if not kw
                else pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(**kw))
            )
            return k8s.apiextensions.CustomResource(
                resource, api_version=api, kind=kind, metadata=meta(obj), spec=spec, opts=opts
            )

        if aws is not None:
            infra_spec = capi.aws_cluster_spec(
                region=aws.region,
                ssh_key_name=aws.ssh_key_name,
                zones=aws.availability_zones,
                api_cidrs=aws.ingress_cidrs,
                bastion=aws.bastion,
            )
        else:
            infra_spec = capi.dev_cluster_spec(c.failure_domains)
        cr(f"{name}-infra-cluster", capi.INFRA_API, kinds.cluster, name, infra_spec)

        def machine_template(role: str, instance_type: str, profile: str, disk: int) -> Any:
            if aws is not None:
                spec = capi.aws_machine_template_spec(
                    instance_type=instance_type,
                    profile=f"{profile}.cluster-api-provider-aws.sigs.k8s.io",
                    ssh_key_name=aws.ssh_key_name,
                    ami_id=aws.ami_id,
                    root_gb=disk,
                )
            else:
                spec = capi.dev_machine_template_spec(control_plane=role == "control-plane")
            obj = f"{name}-{role}-{capi.spec_hash(spec)}"
            # A new name is a new resource: create the replacement before deleting the
            # old template, which the rollout still references until it finishes.
            return cr(f"{name}-{role}-template", capi.INFRA_API, kinds.machine_template, obj, spec)

        cp_template = machine_template(
            "control-plane", c.control_plane_instance_type, "control-plane", 80
        )
        worker_template = machine_template("workers", c.worker_instance_type, "nodes", 100)

        # Encryption at rest: the key never appears in the KCP spec; kubeadm files pull
        # it from this Secret in the Cluster's namespace on the management cluster.
        key = random.RandomBytes(
            f"{name}-encryption-key", length=32, opts=pulumi.ResourceOptions(parent=self)
        )
        enc_secret_name = f"{name}-encryption-config"
        k8s.core.v1.Secret(
            enc_secret_name,
            metadata=meta(enc_secret_name),
            type="Opaque",
            string_data={capi.ENC_KEY: _secret(key.base64.apply(capi.encryption_config))},
            opts=child,
        )

        # The hooks run during an update, long after this program has read the kubeconfig.
        workload_kubeconfig = LateBound[str]("the workload cluster kubeconfig")
        hooks = (
            pulumi.ResourceHookBinding(
                before_update=[f(workload_kubeconfig) for f in before_upgrade]
            )
            if before_upgrade
            else None
        )
        waits = ["condition=Available", f"jsonpath={{.status.version}}={s.kubernetes_version}"]
        kcp = k8s.apiextensions.CustomResource(
            f"{name}-control-plane",
            api_version=capi.CONTROL_PLANE_API,
            kind="KubeadmControlPlane",
            metadata=meta(
                f"{name}-control-plane",
                # Available alone can be stale during an upgrade; the version wait is not.
                annotations={"pulumi.com/waitFor": json.dumps(waits)},
            ),
            spec=cp_template.metadata.apply(
                lambda m: capi.kubeadm_control_plane_spec(
                    replicas=c.control_plane_replicas,
                    version=s.kubernetes_version,
                    infra_kind=kinds.machine_template,
                    template_name=m["name"],
                    encryption_secret=enc_secret_name,
                    external_cloud=aws is not None,
                    extra_sans=() if aws else ("localhost", "127.0.0.1", "host.docker.internal"),
                )
            ),
            opts=pulumi.ResourceOptions.merge(
                child,
                pulumi.ResourceOptions(
                    hooks=hooks,
                    custom_timeouts=pulumi.CustomTimeouts(create="60m", update="90m"),
                ),
            ),
        )

        bootstrap_spec = capi.kubeadm_config_template_spec(external_cloud=aws is not None)
        bootstrap_name = f"{name}-workers-{capi.spec_hash(bootstrap_spec)}"
        cr(
            f"{name}-workers-bootstrap",
            capi.BOOTSTRAP_API,
            "KubeadmConfigTemplate",
            bootstrap_name,
            bootstrap_spec,
        )
        for fd in c.failure_domains:
            md_name = f"{name}-md-{fd}"
            k8s.apiextensions.CustomResource(
                md_name,
                api_version=capi.CLUSTER_API,
                kind="MachineDeployment",
                metadata=meta(
                    md_name,
                    annotations={
                        capi.AUTOSCALER_MIN: str(c.workers_min_per_zone),
                        capi.AUTOSCALER_MAX: str(c.workers_max_per_zone),
                    },
                ),
                spec=worker_template.metadata.apply(
                    lambda m, fd=fd: capi.machine_deployment_spec(
                        cluster=name,
                        pool=f"md-{fd}",
                        version=s.kubernetes_version,
                        failure_domain=fd,
                        bootstrap_template=bootstrap_name,
                        infra_kind=kinds.machine_template,
                        infra_template=m["name"],
                    )
                ),
                # Belt and braces: the autoscaler owns replicas even if one appears.
                opts=pulumi.ResourceOptions.merge(
                    child,
                    pulumi.ResourceOptions(ignore_changes=["spec.replicas"], depends_on=[kcp]),
                ),
            )
        # The workload kubeconfig: read after the control plane is Available (the id is
        # derived from the KCP's id, so the read waits for it), every run.
        secret = k8s.core.v1.Secret.get(
            f"{name}-kubeconfig",
            kcp.id.apply(lambda _: f"{ns}/{name}-kubeconfig"),
            opts=pulumi.ResourceOptions(parent=self, provider=mgmt),
        )
        kubeconfig = _secret(secret.data.apply(lambda d: base64.b64decode(d["value"]).decode()))
        self.provider = k8s.Provider(
            f"{name}-workload",
            kubeconfig=kubeconfig,
            # Stable: certificate renewals rewrite the kubeconfig, never the identity.
            cluster_identifier=name,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.cluster_name = pulumi.Output.from_input(name)
        self.api_endpoint = pulumi.Output.unsecret(kubeconfig.apply(_server))
        self.kubeconfig = kubeconfig
        workload_kubeconfig.bind(kubeconfig)
        self.kubernetes_version = pulumi.Output.from_input(s.kubernetes_version)
        self.control_plane_replicas = pulumi.Output.from_input(c.control_plane_replicas)
        self.failure_domains = pulumi.Output.from_input(list(c.failure_domains))
        self.control_plane_metrics = True
        self.etcd_snapshots = True
        cni = self._workload_addons(s, c, mgmt, kcp)
        # Health checks start only once the CNI is installed: until then every node is
        # NotReady, and remediation would recycle machines that are merely waiting.
        cr(
            f"{name}-control-plane-unhealthy",
            capi.CLUSTER_API,
            "MachineHealthCheck",
            f"{name}-control-plane-unhealthy",
            capi.machine_health_check_spec(
                cluster=name,
                selector={"cluster.x-k8s.io/control-plane": ""},
                # KCP itself refuses remediation that would break etcd quorum.
                max_unhealthy="100%",
                startup_seconds=1200,
            ),
            depends_on=[cni],
        )
        cr(
            f"{name}-workers-unhealthy",
            capi.CLUSTER_API,
            "MachineHealthCheck",
            f"{name}-workers-unhealthy",
            capi.machine_health_check_spec(
                cluster=name,
                selector={"k8s-platform.io/node-group": "workers"},
                max_unhealthy=c.max_unhealthy_workers,
                startup_seconds=900,
            ),
            depends_on=[cni],
        )

    def _workload_addons(
        self, s: ClusterSettings, c: CapiSettings, mgmt: k8s.Provider, kcp: pulumi.Resource
    ) -> pulumi.Resource:
        """CNI (+ AWS CCM) on the workload cluster; the autoscaler next to CAPI."""
        on_workload = kube.child_opts(self, self.provider)
        cni = kube.helm_chart(
            "cilium", chart("cilium"), "kube-system", cilium_values(c), on_workload
        )
        if c.aws is not None:
            kube.helm_chart(
                "aws-cloud-controller-manager",
                chart("aws-cloud-controller-manager"),
                "kube-system",
                {
                    "args": ["--v=2", "--cloud-provider=aws", "--configure-cloud-routes=false"],
                    "resources": kube.resources("200m", "256Mi", memory_limit="512Mi"),
                },
                on_workload,
            )
        # The clusterapi provider scales MachineDeployments, which live on the management
        # cluster: run it there, next to them, and reach the workload API through the
        # CAPI-managed kubeconfig Secret (mode kubeconfig-incluster). It keeps working
        # while the workload cluster is too full to schedule it.
        on_mgmt = kube.child_opts(self, mgmt)
        kube.helm_chart(
            f"{s.name}-cluster-autoscaler",
            chart("cluster-autoscaler"),
            c.namespace,
            autoscaler_values(s.name, c),
            # Its pods mount <cluster>-kubeconfig, which exists once the KCP is up.
            kube.child_opts(self, mgmt, depends_on=[kcp]),
        )
        if c.create_namespace:
            kube.network_policy(
                "cluster-autoscaler-apis",
                c.namespace,
                on_mgmt,
                pod_selector={"app.kubernetes.io/name": "clusterapi-cluster-autoscaler"},
                # The workload NLB (public, addresses change) and the in-cluster API.
                egress_to=[kube.cidr_peer("0.0.0.0/0")],
                egress_ports=kube.tcp(443, 6443),
                resource_name=f"{s.name}-cluster-autoscaler-apis",
            )
        return cni


def _secret(value: pulumi.Output[str]) -> pulumi.Output[str]:
    return pulumi.Output.secret(value)


def _server(kubeconfig: str) -> str:
    doc = yaml.safe_load(kubeconfig) or {}
    clusters = doc.get("clusters") or [{}]
    return str((clusters[0].get("cluster") or {}).get("server", ""))


RESTRICTED_POD = {
    "runAsNonRoot": True,
    "runAsUser": 65534,
    "runAsGroup": 65534,
    "seccompProfile": {"type": "RuntimeDefault"},
}
RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}


def autoscaler_values(cluster: str, c: CapiSettings) -> dict[str, Any]:
    """cluster-autoscaler 9.59.0 values (kubernetes/autoscaler
    cluster-autoscaler/charts/cluster-autoscaler/values.yaml at that tag)."""
    ha = c.autoscaler_replicas > 1
    return {
        "cloudProvider": "clusterapi",
        "clusterAPIMode": "kubeconfig-incluster",
        "clusterAPIKubeconfigSecret": f"{cluster}-kubeconfig",
        # Leader election and status ConfigMaps live on the workload cluster.
        "clusterAPIConfigMapsNamespace": "kube-system",
        "autoDiscovery": {"clusterName": cluster, "namespace": c.namespace},
        "fullnameOverride": f"{cluster}-cluster-autoscaler",
        "rbac": {"clusterScoped": False},
        "replicaCount": c.autoscaler_replicas,
        "podDisruptionBudget": {"maxUnavailable": 1} if ha else {},
        "extraArgs": {
            "logtostderr": True,
            "stderrthreshold": "info",
            "v": 2,
            "leader-elect": ha,
            # MachineDeployments per zone are the same shape: keep the zones even.
            "balance-similar-node-groups": True,
            "expander": "least-waste",
            "max-node-provision-time": "15m0s",
        },
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {
                    "matchLabels": {"app.kubernetes.io/name": "clusterapi-cluster-autoscaler"}
                },
            }
        ],
        "resources": kube.resources("100m", "300Mi", memory_limit="600Mi"),
        "securityContext": RESTRICTED_POD,
        "containerSecurityContext": RESTRICTED_CONTAINER,
        # The management cluster may run no prometheus-operator: no CRD, no ServiceMonitor.
        "serviceMonitor": {"enabled": False},
        "prometheusRule": {"enabled": False},
    }


def cilium_values(c: CapiSettings) -> dict[str, Any]:
    """Cilium 1.20.0 values (checked against the chart's values.yaml)."""
    return {
        # kube-proxy stays (kubeadm installs it): kube-proxy replacement needs the API
        # endpoint (the NLB name, known only after the AWSCluster exists) in
        # k8sServiceHost and kubeadm's kube-proxy phase skipped. See docs/capi.md.
        "kubeProxyReplacement": "false",
        # Pod CIDRs from the Cluster's clusterNetwork (kube-controller-manager allocates
        # them); the default cluster-pool 10.0.0.0/8 would overlap the VPC.
        "ipam": {"mode": "kubernetes"},
        "policyEnforcementMode": "default",
        "operator": {
            "replicas": c.cilium_operator_replicas,
            "podDisruptionBudget": {"enabled": c.cilium_operator_replicas > 1},
            "resources": kube.resources("100m", "128Mi", memory_limit="512Mi"),
            "prometheus": {"enabled": True, "serviceMonitor": {"enabled": False}},
        },
        "resources": kube.resources("100m", "512Mi", cpu_limit="1", memory_limit="1Gi"),
        "prometheus": {"enabled": True, "serviceMonitor": {"enabled": False}},
        "hubble": {
            "enabled": True,
            "metrics": {
                "enabled": ["dns", "drop", "tcp", "flow", "icmp", "http"],
                # No ServiceMonitor: its CRD arrives later with the observability stack
                # and is not guaranteed to exist when the CNI is installed.
                "serviceMonitor": {"enabled": False},
            },
            "relay": {"enabled": False},
            "ui": {"enabled": False},
        },
    }

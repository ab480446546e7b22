"""HAControlPlane: the cluster every other component deploys to.

`existing` mode targets a running cluster (kind on a laptop, or any kube context).
`capi` mode provisions an upstream kubeadm cluster through Cluster API.
Either way the component exposes one Kubernetes provider for the workload cluster.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import yaml

from components.control_plane import access, autoscaler_access, capi_infra, kubelet, machines
from components.control_plane import capi_objects as capi
from components.control_plane.settings import EXISTING, CapiSettings, ClusterSettings
from components.control_plane.values import (
    CILIUM_SECRETS,
    autoscaler_kubeconfig_secret,
    autoscaler_values,
    cilium_values,
)
from kernel import compat, kube, network
from kernel.catalogue import chart
from kernel.contracts import ApiServerAuditLog, HookFactory, KubeletServingCerts

TYPE_TOKEN = "k8splatform:cluster:HAControlPlane"


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
    kubeconfig: pulumi.Output[str | None]
    """OIDC exec-plugin kubeconfig (no credential inside); None without `authentication`."""
    break_glass_kubeconfig: pulumi.Output[str]
    """Secret: the admin client certificate (system:masters), for when the IdP is down."""
    kubernetes_version: pulumi.Output[str]
    control_plane_replicas: pulumi.Output[int | None]
    failure_domains: pulumi.Output[list[str]]
    control_plane_metrics: bool
    """True when etcd, scheduler and controller-manager metrics are reachable."""
    etcd_snapshots: bool
    """True when etcd runs on control-plane nodes we control (stacked etcd, capi mode)."""
    network: network.Network
    """The CNI that enforces every component's policies (and its install, to wait for)."""
    kubelet_serving: KubeletServingCerts | None
    """Set when kubelets request serving certificates that someone must approve."""
    audit_log: ApiServerAuditLog | None
    """Where the API server writes its audit log on control-plane nodes we manage."""

    def __init__(
        self, name: str, args: HAControlPlaneArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        s = args.settings
        self._cni: pulumi.Resource | None = None
        self.kubelet_serving = kubelet.serving_certs(s)
        # kind and other existing clusters: whether and where they audit is not ours.
        self.audit_log = capi.AUDIT_LOG if s.mode != EXISTING else None
        if s.mode == EXISTING:
            self._existing(s)
            if s.cni.install:
                self._cni = self._cilium(s)
        else:
            self._capi(s, args.before_upgrade)
        auth = s.authentication
        self.kubeconfig = (
            pulumi.Output.unsecret(
                self.break_glass_kubeconfig.apply(lambda k: access.oidc_kubeconfig(k, s.name, auth))
            )
            if auth is not None
            else pulumi.Output.from_input(None)
        )
        self.network = network.Network(
            cni=s.cni.name,
            node_cidrs=s.cni.node_cidrs,
            ready=(self._cni,) if self._cni is not None else (),
        )
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "api_endpoint": self.api_endpoint,
                "kubeconfig": self.kubeconfig,
                "break_glass_kubeconfig": self.break_glass_kubeconfig,
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
        self.break_glass_kubeconfig = pulumi.Output.secret(e.minified_kubeconfig)
        self.kubernetes_version = pulumi.Output.from_input(s.kubernetes_version)
        # Unknown for a cluster we did not build; never guessed.
        self.control_plane_replicas = pulumi.Output.from_input(None)
        self.failure_domains = pulumi.Output.from_input([])
        # kind and most managed clusters bind these to 127.0.0.1 (or hide them).
        self.control_plane_metrics = False
        self.etcd_snapshots = False

    def _cilium(self, s: ClusterSettings) -> k8s.helm.v4.Chart:
        """The same Cilium in every stack; dev only sized for a laptop."""
        opts = kube.child_opts(self, self.provider)
        cni = kube.helm_chart(
            "cilium", chart("cilium"), "kube-system", cilium_values(s.cni, s.kubernetes_minor), opts
        )
        # The chart's secrets namespace starts closed, like every other.
        kube.default_deny(
            CILIUM_SECRETS,
            pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[cni])),
        )
        return cni

    # ---- capi mode ---------------------------------------------------------------------

    def _capi(self, s: ClusterSettings, before_upgrade: tuple[HookFactory, ...]) -> None:
        assert s.capi is not None
        c = s.capi
        name = s.name
        kinds = capi_infra.INFRA_KINDS[c.infrastructure]
        mgmt = k8s.Provider(
            f"{name}-management",
            kubeconfig=c.management_kubeconfig,
            context=c.management_context,
            cluster_identifier=f"{name}-management",
            opts=pulumi.ResourceOptions(parent=self),
        )
        cluster = self._capi_cluster(s, c, mgmt)
        on = machines.OnManagement(c.namespace, kube.child_opts(self, mgmt, deleted_with=cluster))
        on.cr(f"{name}-infra-cluster", capi.INFRA_API, kinds.cluster, name, machines.infra_spec(c))
        cp_template = machines.machine_template(
            on,
            name,
            c,
            role="control-plane",
            instance_type=c.control_plane_instance_type,
            profile="control-plane",
            disk=80,
        )
        worker_template = machines.machine_template(
            on,
            name,
            c,
            role="workers",
            instance_type=c.worker_instance_type,
            profile="nodes",
            disk=100,
        )
        enc_secret_name = self._encryption_secret(on, name)
        # The hooks run before the KCP update and so before its outputs resolve: they
        # get plain values and read the workload kubeconfig Secret themselves.
        access = s.workload_access()
        hooks = (
            pulumi.ResourceHookBinding(before_update=[f(access) for f in before_upgrade])
            if before_upgrade
            else None
        )
        kcp = machines.control_plane(
            on, s, c, cp_template, encryption_secret=enc_secret_name, hooks=hooks
        )
        machines.workers(on, s, c, worker_template, kcp)
        self._workload_provider(name, c.namespace, mgmt, kcp)
        self.kubernetes_version = pulumi.Output.from_input(s.kubernetes_version)
        self.control_plane_replicas = pulumi.Output.from_input(c.control_plane_replicas)
        self.failure_domains = pulumi.Output.from_input(list(c.failure_domains))
        self.control_plane_metrics = True
        self.etcd_snapshots = True
        cni = self._workload_addons(s, c, mgmt, kcp)
        machines.health_checks(on, name, c, cni)

    def _capi_cluster(
        self, s: ClusterSettings, c: CapiSettings, mgmt: k8s.Provider
    ) -> pulumi.Resource:
        """The Cluster object (and its namespace) on the management cluster."""
        name, ns = s.name, c.namespace
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
        # Deleting the Cluster is the only supported way down: CAPI tears machines,
        # templates and cloud resources down in order through ownerRefs. Pulumi waits
        # for the 404 (finalizers done); children are skipped via deleted_with.
        return k8s.apiextensions.CustomResource(
            f"{name}-cluster",
            api_version=capi.CLUSTER_API,
            kind="Cluster",
            metadata=machines.meta(
                ns,
                name,
                annotations={"pulumi.com/waitFor": "condition=ControlPlaneAvailable"},
            ),
            spec=capi.cluster_spec(
                name=name,
                infra_kind=capi_infra.INFRA_KINDS[c.infrastructure].cluster,
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

    def _encryption_secret(self, on: machines.OnManagement, name: str) -> str:
        """Encryption at rest: the key never appears in the KCP spec; kubeadm files pull
        it from this Secret in the Cluster's namespace on the management cluster."""
        key = random.RandomBytes(
            f"{name}-encryption-key", length=32, opts=pulumi.ResourceOptions(parent=self)
        )
        enc_secret_name = f"{name}-encryption-config"
        k8s.core.v1.Secret(
            enc_secret_name,
            metadata=on.meta(enc_secret_name),
            type="Opaque",
            string_data={capi.ENC_KEY: _secret(key.base64.apply(capi.encryption_config))},
            opts=on.child,
        )
        return enc_secret_name

    def _workload_provider(
        self, name: str, ns: str, mgmt: k8s.Provider, kcp: k8s.apiextensions.CustomResource
    ) -> pulumi.Output[str]:
        """The workload kubeconfig: read after the control plane is Available (the id is
        derived from the KCP's id, so the read waits for it), every run."""
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
        self.break_glass_kubeconfig = kubeconfig
        return kubeconfig

    def _workload_addons(
        self, s: ClusterSettings, c: CapiSettings, mgmt: k8s.Provider, kcp: pulumi.Resource
    ) -> pulumi.Resource:
        """CNI (+ AWS CCM) on the workload cluster; the autoscaler next to CAPI."""
        on_workload = kube.child_opts(self, self.provider)
        cni = self._cni = self._cilium(s)
        if c.aws is not None:
            kube.helm_chart(
                "aws-cloud-controller-manager",
                chart("aws-cloud-controller-manager"),
                "kube-system",
                {
                    # One CCM release per Kubernetes minor (upstream guarantees no other).
                    "image": {
                        "tag": compat.image_tag(
                            "aws-cloud-controller-manager", s.kubernetes_version
                        )
                    },
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
        token = autoscaler_access.workload_identity(on_workload)
        kubeconfig = autoscaler_access.management_secret(
            autoscaler_kubeconfig_secret(s.name),
            c.namespace,
            self.break_glass_kubeconfig,
            token,
            kube.child_opts(self, mgmt, depends_on=[kcp]),
        )
        kube.helm_chart(
            f"{s.name}-cluster-autoscaler",
            chart("cluster-autoscaler"),
            c.namespace,
            autoscaler_values(s.name, c, s.kubernetes_version),
            # Its pods mount that kubeconfig Secret.
            kube.child_opts(self, mgmt, depends_on=[kcp, kubeconfig]),
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

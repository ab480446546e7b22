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

from components.control_plane import capi_objects as capi
from components.control_plane import kubelet, subnets
from components.control_plane.settings import EXISTING, CapiSettings, ClusterSettings
from components.control_plane.values import autoscaler_values, cilium_values
from kernel import compat, kube, network
from kernel.catalogue import chart
from kernel.contracts import HookFactory, KubeletServingCerts

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
    kubeconfig: pulumi.Output[str]
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

    def __init__(
        self, name: str, args: HAControlPlaneArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        s = args.settings
        self._cni: pulumi.Resource | None = None
        self.kubelet_serving = kubelet.serving_certs(s)
        if s.mode == EXISTING:
            self._existing(s)
            if s.cni.install:
                self._cni = self._cilium(s)
        else:
            self._capi(s, args.before_upgrade)
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

    def _cilium(self, s: ClusterSettings) -> k8s.helm.v4.Chart:
        """The same Cilium in every stack; dev only sized for a laptop."""
        return kube.helm_chart(
            "cilium",
            chart("cilium"),
            "kube-system",
            cilium_values(s.cni),
            kube.child_opts(self, self.provider),
        )

    # ---- capi mode ---------------------------------------------------------------------

    def _capi(self, s: ClusterSettings, before_upgrade: tuple[HookFactory, ...]) -> None:
        assert s.capi is not None
        c = s.capi
        name = s.name
        kinds = capi.INFRA_KINDS[c.infrastructure]
        mgmt = k8s.Provider(
            f"{name}-management",
            kubeconfig=c.management_kubeconfig,
            context=c.management_context,
            cluster_identifier=f"{name}-management",
            opts=pulumi.ResourceOptions(parent=self),
        )
        cluster = self._capi_cluster(s, c, mgmt)
        on = _OnManagement(c.namespace, kube.child_opts(self, mgmt, deleted_with=cluster))
        on.cr(f"{name}-infra-cluster", capi.INFRA_API, kinds.cluster, name, _infra_spec(c))
        cp_template = _machine_template(
            on,
            name,
            c,
            role="control-plane",
            instance_type=c.control_plane_instance_type,
            profile="control-plane",
            disk=80,
        )
        worker_template = _machine_template(
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
        kcp = _control_plane(on, s, c, cp_template, encryption_secret=enc_secret_name, hooks=hooks)
        _workers(on, s, c, worker_template, kcp)
        self._workload_provider(name, c.namespace, mgmt, kcp)
        self.kubernetes_version = pulumi.Output.from_input(s.kubernetes_version)
        self.control_plane_replicas = pulumi.Output.from_input(c.control_plane_replicas)
        self.failure_domains = pulumi.Output.from_input(list(c.failure_domains))
        self.control_plane_metrics = True
        self.etcd_snapshots = True
        cni = self._workload_addons(s, c, mgmt, kcp)
        _health_checks(on, name, c, cni)

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
            metadata=_meta(
                ns,
                name,
                annotations={"pulumi.com/waitFor": "condition=ControlPlaneAvailable"},
            ),
            spec=capi.cluster_spec(
                name=name,
                infra_kind=capi.INFRA_KINDS[c.infrastructure].cluster,
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

    def _encryption_secret(self, on: _OnManagement, name: str) -> str:
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
        self.kubeconfig = kubeconfig
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
        kube.helm_chart(
            f"{s.name}-cluster-autoscaler",
            chart("cluster-autoscaler"),
            c.namespace,
            autoscaler_values(s.name, c, s.kubernetes_version),
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


def _meta(ns: str, obj: str, **extra: Any) -> Any:
    return {"name": obj, "namespace": ns, "labels": dict(kube.MANAGED_BY), **extra}


@dataclass(frozen=True)
class _OnManagement:
    """Objects in the Cluster's namespace on the management cluster, deleted with it."""

    namespace: str
    child: pulumi.ResourceOptions

    def meta(self, obj: str, **extra: Any) -> Any:
        return _meta(self.namespace, obj, **extra)

    def cr(self, resource: str, api: str, kind: str, obj: str, spec: Any, **kw: Any) -> Any:
        opts = (
            self.child
            if not kw
            else pulumi.ResourceOptions.merge(self.child, pulumi.ResourceOptions(**kw))
        )
        return k8s.apiextensions.CustomResource(
            resource, api_version=api, kind=kind, metadata=self.meta(obj), spec=spec, opts=opts
        )


def _infra_spec(c: CapiSettings) -> dict[str, Any]:
    aws = c.aws
    if aws is not None:
        return capi.aws_cluster_spec(
            region=aws.region,
            ssh_key_name=aws.ssh_key_name,
            network=subnets.network_spec(aws.vpc_cidr, aws.availability_zones, aws.subnets),
            api_cidrs=aws.ingress_cidrs,
            bastion=aws.bastion,
        )
    return capi.dev_cluster_spec(c.failure_domains)


def _machine_template(
    on: _OnManagement,
    name: str,
    c: CapiSettings,
    *,
    role: str,
    instance_type: str,
    profile: str,
    disk: int,
) -> Any:
    aws = c.aws
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
    kind = capi.INFRA_KINDS[c.infrastructure].machine_template
    return on.cr(f"{name}-{role}-template", capi.INFRA_API, kind, obj, spec)


def _control_plane(
    on: _OnManagement,
    s: ClusterSettings,
    c: CapiSettings,
    template: Any,
    *,
    encryption_secret: str,
    hooks: pulumi.ResourceHookBinding | None,
) -> k8s.apiextensions.CustomResource:
    name, aws = s.name, c.aws
    waits = ["condition=Available", capi.version_wait(s.kubernetes_version)]
    return k8s.apiextensions.CustomResource(
        f"{name}-control-plane",
        api_version=capi.CONTROL_PLANE_API,
        kind="KubeadmControlPlane",
        metadata=on.meta(
            f"{name}-control-plane",
            # Available alone can be stale during an upgrade; the version wait is not.
            annotations={"pulumi.com/waitFor": json.dumps(waits)},
        ),
        spec=template.metadata.apply(
            lambda m: capi.kubeadm_control_plane_spec(
                replicas=c.control_plane_replicas,
                version=s.kubernetes_version,
                infra_kind=capi.INFRA_KINDS[c.infrastructure].machine_template,
                template_name=m["name"],
                encryption_secret=encryption_secret,
                external_cloud=aws is not None,
                extra_sans=() if aws else ("localhost", "127.0.0.1", "host.docker.internal"),
            )
        ),
        opts=pulumi.ResourceOptions.merge(
            on.child,
            pulumi.ResourceOptions(
                hooks=hooks,
                custom_timeouts=pulumi.CustomTimeouts(create="60m", update="90m"),
            ),
        ),
    )


def _workers(
    on: _OnManagement, s: ClusterSettings, c: CapiSettings, template: Any, kcp: pulumi.Resource
) -> None:
    """One MachineDeployment per failure domain, sized by the cluster-autoscaler."""
    name = s.name
    bootstrap_spec = capi.kubeadm_config_template_spec(external_cloud=c.aws is not None)
    bootstrap_name = f"{name}-workers-{capi.spec_hash(bootstrap_spec)}"
    on.cr(
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
            metadata=on.meta(
                md_name,
                annotations={
                    capi.AUTOSCALER_MIN: str(c.workers_min_per_zone),
                    capi.AUTOSCALER_MAX: str(c.workers_max_per_zone),
                },
            ),
            spec=template.metadata.apply(
                lambda m, fd=fd: capi.machine_deployment_spec(
                    cluster=name,
                    pool=f"md-{fd}",
                    version=s.kubernetes_version,
                    failure_domain=fd,
                    bootstrap_template=bootstrap_name,
                    infra_kind=capi.INFRA_KINDS[c.infrastructure].machine_template,
                    infra_template=m["name"],
                )
            ),
            # Belt and braces: the autoscaler owns replicas even if one appears.
            opts=pulumi.ResourceOptions.merge(
                on.child,
                pulumi.ResourceOptions(ignore_changes=["spec.replicas"], depends_on=[kcp]),
            ),
        )


def _health_checks(on: _OnManagement, name: str, c: CapiSettings, cni: pulumi.Resource) -> None:
    """Health checks start only once the CNI is installed: until then every node is
    NotReady, and remediation would recycle machines that are merely waiting."""
    on.cr(
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
    on.cr(
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

"""HAControlPlane's settings: the `cluster` section (existing or capi mode)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from components.control_plane import capi_objects, subnets
from components.control_plane.auth_settings import AuthenticationSettings, load_authentication
from components.control_plane.cni_settings import CniSettings, load_cni
from kernel import compat, kubeconfig, objectstore
from kernel.config import DNS_LABEL, K8S_VERSION, MISSING, ByProfile, Section, cidr, matches
from kernel.contracts import WorkloadAccess
from kernel.loader import Loader

EXISTING = "existing"
CAPI = "capi"
MODES = (EXISTING, CAPI)


@dataclass(frozen=True)
class ExistingClusterSettings:
    kubeconfig: str | None  # the path the user set, or None: each machine's own default
    context: str
    server: str
    minified_kubeconfig: str
    """One-context kubeconfig read at plan time; only ever published as a secret."""
    check_server_version: bool = True  # refuse a live server's minor outside the matrix


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
    vpc_cidr: str = subnets.VPC_DEFAULT
    subnets: tuple[subnets.ZoneSubnets, ...] = ()  # per zone: the source of node addresses

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
    pods_cidr: str
    services_cidr: str
    aws: CapiAwsSettings | None = None
    docker: CapiDockerSettings | None = None
    management_server: str = ""
    """The management cluster's API server URL, as its kubeconfig names it."""

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
    infrastructure: str | None = None
    """capi mode: `aws` or `docker` (known even when the capi section has problems)."""

    @property
    def target(self) -> str:
        """What this stack deploys to, for the preview/up log."""
        if self.existing is not None:
            return f"kube context {self.existing.context} (server {self.existing.server})"
        if self.capi is not None:
            return (
                f"management context {self.capi.management_context} "
                f"(server {self.capi.management_server}), namespace {self.capi.namespace}"
            )
        return "no cluster"

    cni: CniSettings = field(default_factory=CniSettings)
    authentication: AuthenticationSettings | None = None

    def workload_access(self) -> WorkloadAccess:
        """How hooks reach the capi workload cluster: its management cluster's Secret."""
        c = self.capi
        assert c is not None, "capi mode only"
        return WorkloadAccess(c.management_kubeconfig, c.management_context, c.namespace, self.name)

    @property
    def kubernetes_minor(self) -> str:
        """'v1.34.2' -> 'v1.34' (Pod Security labels and validators use the minor)."""
        return ".".join(self.kubernetes_version.split(".")[:2])


DEFAULT_KUBERNETES_VERSION = compat.load().default_version
"""From the compatibility matrix; settings.py checks the version against it."""
DEV_CONTEXT = "kind-k8s-platform-dev"
"""The context `make kind-up` creates (kind names it kind-<cluster name>)."""


def is_local_server(server: str) -> bool:
    """The server's address, not the context's name, says where a cluster is: kind serves
    its API on loopback (apiServerAddress 127.0.0.1 by default) and, in the kubeconfig of
    `kind get kubeconfig --internal`, on its node `<cluster>-control-plane`. A context
    named `kind-…` whose server is a cloud API server is not local."""
    host = urlsplit(server).hostname or ""
    if host == "localhost" or host.endswith("-control-plane"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_section(load: Loader, root: Section, *, stack: str) -> ClusterSettings:
    """The `cluster` section; in existing mode the kubeconfig is read at plan time."""
    s = root.section("cluster", doc="The cluster itself: HAControlPlane.")
    name = s.string(
        "name",
        stack,
        doc="Cluster name; also the provider's stable cluster identifier. Default: the stack name.",
        check=DNS_LABEL,
    )
    mode = s.string(
        "mode",
        ByProfile(dev=EXISTING, prod=CAPI),
        doc="`existing`: use a running cluster. `capi`: provision one through Cluster API.",
        choices=MODES,
    )
    version = s.string(
        "kubernetesVersion",
        DEFAULT_KUBERNETES_VERSION,
        doc="Kubernetes version of the cluster; its minor must be one every enabled component "
        "supports and, with the prod profile, inside upstream support unless acceptRisks names "
        "this key (docs/compatibility.md).",
        check=K8S_VERSION,
    )
    path = s.string(
        "kubeconfig",
        None,
        doc="existing mode: kubeconfig file. Default: $KUBECONFIG, else ~/.kube/config.",
    )
    # Pinned, never "whatever context is current": dev targets the kind cluster.
    context_default: Any = None
    if mode == EXISTING:
        context_default = MISSING if load.prod else DEV_CONTEXT
    context = s.string(
        "context",
        context_default,
        doc=f"existing mode: the kubeconfig context this stack deploys to. dev default: "
        f"`{DEV_CONTEXT}` (`make kind-up`); required with the prod profile.",
    )
    check = s.boolean(
        "serverVersionCheck",
        True,
        doc="existing mode: read the API server's version at preview and refuse a minor the "
        "enabled components do not support; false only for previews without the cluster.",
    )
    if mode == CAPI:
        if s.is_set("serverVersionCheck"):
            load.ctx.problem(s.key("serverVersionCheck"), check, "existing mode only")
        for key, value in (("kubeconfig", path), ("context", context)):
            if value is not None:
                load.ctx.problem(
                    s.key(key), value, "existing mode only; capi mode uses cluster.capi.management*"
                )
    capi, infra = _capi(load, s, name or stack, mode == CAPI)
    cni = load_cni(load, s, mode == CAPI)
    authentication = load_authentication(load, s)
    if mode == EXISTING and s.is_set("capi"):
        load.ctx.problem(
            s.key("capi"), s.raw("capi"), "capi mode only; cluster.mode is existing (ignored)"
        )
    existing = _existing(load, s, path, context, check) if mode == EXISTING else None
    s.close()
    return ClusterSettings(
        name=name or stack,
        mode=mode,
        kubernetes_version=version,
        existing=existing,
        capi=capi,
        infrastructure=infra if mode == CAPI else None,
        cni=cni,
        authentication=authentication,
    )


def _existing(
    load: Loader, s: Section, path: str | None, context: str | None, check: bool
) -> ExistingClusterSettings | None:
    """existing mode: the kubeconfig is read at plan time; None when it cannot be."""
    try:
        view = kubeconfig.read(path, context)
    except kubeconfig.KubeconfigError as exc:
        key = s.key("context") if context and "context" in str(exc) else s.key("kubeconfig")
        load.ctx.problem(
            key,
            context if key.endswith("context") else path,
            f"{exc}; create the dev cluster with `make kind-up` or point "
            "cluster.kubeconfig/cluster.context at a running cluster",
        )
        return None
    _dev_targets_a_local_cluster(load, s, view.context, view.server)
    return ExistingClusterSettings(
        kubeconfig=path,
        context=view.context,
        server=view.server,
        minified_kubeconfig=view.minified,
        check_server_version=check,
    )


def _dev_targets_a_local_cluster(load: Loader, s: Section, context: str, server: str) -> None:
    """The dev profile deploys only to a kind or loopback cluster: a dev stack aimed at a
    production context is refused unless acceptRisks names cluster.context."""
    local = is_local_server(server)
    load.dev_requires(
        s.key("context"),
        local,
        context,
        f"a local kind or loopback cluster (server {server or '<none>'} is neither)",
    )


def _infrastructure_problems(load: Loader, s: Section, infra: str, active: bool) -> None:
    """Keys of the other infrastructure would be ignored: say so; and CAPA's contract must
    still be served by the pinned Cluster API core."""
    other = {capi_objects.AWS: "docker", capi_objects.DOCKER: "aws"}.get(infra)
    if active and other and s.is_set(other):
        load.ctx.problem(
            s.key(other), s.raw(other), f"{other} only; cluster.capi.infrastructure is {infra}"
        )
    if active and infra == capi_objects.AWS:
        problem = compat.contract_problem(capi_objects.CAPI_VERSION)
        if problem:
            load.ctx.problem(s.key("infrastructure"), infra, problem)


AMI_ID = matches(r"ami-[0-9a-f]{8,17}", "an AMI id such as ami-0123456789abcdef0")
INSTANCE_TYPE = matches(r"[a-z][a-z0-9-]*\.[a-z0-9]+", "an EC2 instance type such as m6i.large")
PERCENT = matches(r"([1-9]|[1-9]\d)%", "a percentage below 100% such as 40%")


def _capi(
    load: Loader, cluster: Section, name: str, active: bool
) -> tuple[CapiSettings | None, str | None]:
    """Read the `cluster.capi` section always (docs, unknown keys); require keys only
    when capi mode is on."""
    req: Any = MISSING if active else None
    s = cluster.section("capi", doc="capi mode: Cluster API on a management cluster.")
    mgmt_path = s.string(
        "managementKubeconfig",
        None,
        doc="Kubeconfig file of the management cluster. Default: $KUBECONFIG, else ~/.kube/config.",
    )
    mgmt_context = s.string(
        "managementContext", req, doc="Kubeconfig context of the management cluster (required)."
    )
    namespace = s.string(
        "namespace",
        name,
        doc="Namespace on the management cluster for the Cluster objects. Default: cluster name.",
        check=DNS_LABEL,
    )
    create_ns = s.boolean(
        "createNamespace",
        True,
        doc="Create that namespace (PSA restricted + default-deny); false if it exists.",
    )
    infra = s.string(
        "infrastructure",
        ByProfile(dev=capi_objects.DOCKER, prod=capi_objects.AWS),
        doc="`aws` (CAPA, production) or `docker` (CAPD Dev* kinds, HA rehearsal on a laptop).",
        choices=capi_objects.INFRASTRUCTURES,
    )
    replicas, cp_type = _capi_control_plane(load, s)
    w_type, w_min, w_max, max_unhealthy = _capi_workers(load, s)
    autoscaler = load.replicas(
        s,
        "autoscalerReplicas",
        ByProfile(1, 2),
        doc="cluster-autoscaler replicas (leader election + PDB when > 1).",
        maximum=3,
    )
    pods = s.string("podsCidr", "192.168.0.0/16", doc="Pod network CIDR.", check=cidr)
    services = s.string("servicesCidr", "10.96.0.0/12", doc="Service CIDR.", check=cidr)

    aws = _capi_aws(load, s, active and infra == capi_objects.AWS)
    docker = _capi_docker(load, s)
    _infrastructure_problems(load, s, infra, active)
    s.close()
    if not active or mgmt_context is None:
        return None, infra
    view = _management_context(load, s, mgmt_path, mgmt_context)
    if view is None:
        return None, infra
    settings = CapiSettings(
        management_kubeconfig=mgmt_path,
        management_context=view.context,
        management_server=view.server,
        namespace=namespace,
        create_namespace=create_ns,
        infrastructure=infra,
        control_plane_replicas=replicas,
        control_plane_instance_type=cp_type,
        worker_instance_type=w_type,
        workers_min_per_zone=w_min,
        workers_max_per_zone=w_max,
        max_unhealthy_workers=max_unhealthy,
        autoscaler_replicas=autoscaler,
        pods_cidr=pods,
        services_cidr=services,
        aws=aws if infra == capi_objects.AWS else None,
        docker=docker if infra == capi_objects.DOCKER else None,
    )
    return settings, infra


def _capi_control_plane(load: Loader, s: Section) -> tuple[int, str]:
    cp = s.section("controlPlane", doc="KubeadmControlPlane.")
    replicas = cp.integer(
        "replicas",
        ByProfile(dev=1, prod=3),
        doc="Control-plane nodes (stacked etcd): odd; at least 3 in prod.",
        minimum=1,
        maximum=7,
    )
    if replicas is not None and replicas % 2 == 0:
        load.ctx.problem(
            cp.key("replicas"),
            replicas,
            "must be odd (1, 3, 5, 7): etcd quorum gains nothing from an even member",
        )
    load.prod_minimum(cp, "replicas", replicas, 3)
    cp_type = cp.string(
        "instanceType", "m6i.large", doc="aws: control-plane instance type.", check=INSTANCE_TYPE
    )
    cp.close()
    return replicas, cp_type


def _capi_workers(load: Loader, s: Section) -> tuple[str, int, int, str]:
    w = s.section("workers", doc="Worker MachineDeployments, one per failure domain.")
    w_type = w.string(
        "instanceType", "m6i.xlarge", doc="aws: worker instance type.", check=INSTANCE_TYPE
    )
    w_min = w.integer(
        "minPerZone", 1, doc="cluster-autoscaler minimum per zone.", minimum=0, maximum=100
    )
    w_max = w.integer(
        "maxPerZone",
        ByProfile(dev=2, prod=6),
        doc="cluster-autoscaler maximum per zone.",
        minimum=1,
        maximum=200,
    )
    if w_min is not None and w_max is not None and w_min > w_max:
        load.ctx.problem(w.key("minPerZone"), w_min, f"must not exceed maxPerZone ({w_max})")
    max_unhealthy = w.string(
        "maxUnhealthy",
        "40%",
        doc="MachineHealthCheck remediates only while at most this share is unhealthy.",
        check=PERCENT,
    )
    w.close()
    return w_type, w_min, w_max, max_unhealthy


def _management_context(
    load: Loader, s: Section, path: str | None, context: str
) -> kubeconfig.KubeconfigView | None:
    """The management cluster's context as the kubeconfig names it; None if unreadable."""
    try:
        view = kubeconfig.read(path, context)
    except kubeconfig.KubeconfigError as exc:
        load.ctx.problem(
            s.key("managementContext"),
            context,
            f"{exc}; bootstrap the management cluster (docs/capi.md) or fix "
            "cluster.capi.managementKubeconfig/managementContext",
        )
        return None
    return view


def _capi_aws(load: Loader, capi: Section, active: bool) -> CapiAwsSettings | None:
    req: Any = MISSING if active else None
    a = capi.section("aws", doc="capi + aws (CAPA).")
    region = a.string("region", req, doc="AWS region.", check=objectstore.AWS_REGION)
    zones = a.strings(
        "availabilityZones",
        doc="Availability zones (failure domains), at least 3. Default: <region>a, b, c.",
    )
    if not zones and region:
        zones = tuple(f"{region}{z}" for z in "abc")
    if active and len(zones) < 3:
        load.ctx.problem(
            a.key("availabilityZones"),
            list(zones),
            "at least 3 availability zones are needed for an HA control plane and workers",
        )
    for i, zone in enumerate(zones):
        if region and not zone.startswith(region):
            load.ctx.problem(f"{a.key('availabilityZones')}[{i}]", zone, f"not in {region}")
    ssh = a.string(
        "sshKeyName", req, doc='Existing EC2 key pair for the nodes ("" = none).', check=None
    )
    ami = a.string("amiId", req, doc="Pinned AMI (own image-builder image).", check=AMI_ID)
    allowed = a.strings(
        "apiAllowedCidrs",
        doc="CIDRs allowed to reach the Kubernetes API NLB (required; no 0.0.0.0/0 default).",
        check=cidr,
    )
    if active and not allowed:
        load.ctx.problem(
            a.key("apiAllowedCidrs"), [], "required: the CIDRs that may reach the API server"
        )
    open_ = any(c in ("0.0.0.0/0", "::/0") for c in allowed)
    load.prod_requires(
        a.key("apiAllowedCidrs"),
        not open_,
        list(allowed),
        "an API allow-list narrower than 0.0.0.0/0",
    )
    egress = a.strings(
        "managementEgressCidrs",
        doc="Egress CIDRs of the management cluster; always added to the API allow-list.",
        check=cidr,
    )
    if active and not egress:
        load.ctx.problem(
            a.key("managementEgressCidrs"),
            [],
            "required: CAPI on the management cluster must reach the workload API",
        )
    bastion = a.boolean("bastion", False, doc="CAPA bastion host (off: use SSM).")
    vpc, layout = subnets.load_vpc(load, a, zones)
    preflight = a.boolean(
        "preflight",
        True,
        doc="Check AWS prerequisites (AZs, instance profiles, key pair, AMI) before any "
        "resource; false for previews without AWS credentials.",
    )
    a.close()
    if not active:
        return None
    return CapiAwsSettings(
        region=region or "",
        availability_zones=zones,
        ssh_key_name=ssh if ssh is not None else "",
        ami_id=ami or "",
        api_allowed_cidrs=allowed,
        management_egress_cidrs=egress,
        bastion=bastion,
        preflight=preflight,
        vpc_cidr=vpc,
        subnets=layout,
    )


def _capi_docker(load: Loader, capi: Section) -> CapiDockerSettings:
    d = capi.section("docker", doc="capi + docker (CAPD).")
    fds = d.strings(
        "failureDomains",
        ("fd1", "fd2", "fd3"),
        doc="Fake failure domains so the spreading logic is exercised (at least 3).",
        check=DNS_LABEL,
    )
    if len(fds) < 3:
        load.ctx.problem(d.key("failureDomains"), list(fds), "at least 3 failure domains")
    d.close()
    return CapiDockerSettings(failure_domains=fds)

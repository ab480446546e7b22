"""HAControlPlane's settings: the `cluster` section (existing or capi mode)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from components.control_plane import capi_objects, subnets
from kernel import kubeconfig, network
from kernel.config import DNS_LABEL, K8S_VERSION, MISSING, ByProfile, Section, cidr, matches
from kernel.loader import Loader

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
    vpc_cidr: str = subnets.VPC_DEFAULT
    subnets: tuple[subnets.ZoneSubnets, ...] = ()
    """One private + one public subnet per zone: the one source of node addresses."""

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

    @property
    def failure_domains(self) -> tuple[str, ...]:
        if self.aws is not None:
            return self.aws.availability_zones
        return self.docker.failure_domains if self.docker else ()


@dataclass(frozen=True)
class CniSettings:
    name: str = network.CILIUM
    """The CNI that enforces the policies: `cilium`, or `other` (existing mode only)."""
    install: bool = True
    """This program installs it (Cilium): always in capi mode, by default in dev."""
    operator_replicas: int = 1
    node_cidrs: tuple[str, ...] = ()
    """`other` only: node / API server addresses for ipBlock rules."""
    small: bool = True
    """Laptop-sized requests (dev profile); the values are otherwise the same."""


@dataclass(frozen=True)
class ClusterSettings:
    name: str
    mode: str
    kubernetes_version: str
    existing: ExistingClusterSettings | None = None
    capi: CapiSettings | None = None
    cni: CniSettings = field(default_factory=CniSettings)

    @property
    def kubernetes_minor(self) -> str:
        """'v1.34.2' -> 'v1.34' (Pod Security labels and validators use the minor)."""
        return ".".join(self.kubernetes_version.split(".")[:2])


DEFAULT_KUBERNETES_VERSION = "v1.35.0"
# The Kubernetes minors this release of the platform is built and validated for.
SUPPORTED_MINORS = range(31, 37)


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
        doc="Kubernetes version of the cluster (pins Pod Security labels and validation).",
        check=K8S_VERSION,
    )
    if version and K8S_VERSION(version) is None:
        minor = int(version.split(".")[1])
        capi_range = capi_objects.CAPI_WORKLOAD_MINORS
        if mode == CAPI and minor not in capi_range:
            load.ctx.problem(
                s.key("kubernetesVersion"),
                version,
                f"Cluster API {capi_objects.CAPI_VERSION} supports workload clusters "
                f"v1.{capi_range.start}..v1.{capi_range.stop - 1}",
            )
            version = DEFAULT_KUBERNETES_VERSION
        elif minor not in SUPPORTED_MINORS:
            load.ctx.problem(
                s.key("kubernetesVersion"),
                version,
                f"supported minors: v1.{SUPPORTED_MINORS.start}..v1.{SUPPORTED_MINORS.stop - 1}",
            )
            version = DEFAULT_KUBERNETES_VERSION
    path = s.string(
        "kubeconfig",
        None,
        doc="existing mode: kubeconfig file. Default: $KUBECONFIG, else ~/.kube/config.",
    )
    context = s.string(
        "context", None, doc="existing mode: kubeconfig context. Default: the current context."
    )
    existing = None
    if mode == CAPI:
        for key, value in (("kubeconfig", path), ("context", context)):
            if value is not None:
                load.ctx.problem(
                    s.key(key), value, "existing mode only; capi mode uses cluster.capi.management*"
                )
    capi, cni = _capi(load, s, name or stack, mode == CAPI), _cni(load, s, mode)
    if mode == EXISTING:
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
        else:
            existing = ExistingClusterSettings(
                kubeconfig=path,
                context=view.context,
                server=view.server,
                minified_kubeconfig=view.minified,
            )
    s.close()
    return ClusterSettings(name=name or stack, mode=mode, kubernetes_version=version,
                           existing=existing, capi=capi, cni=cni)  # fmt: skip


def _cni(load: Loader, cluster: Section, mode: str) -> CniSettings:
    """The CNI the policies are written for; combinations it cannot enforce are refused."""
    s = cluster.section("cni", doc="The pod network (CNI) that enforces the network policies.")
    name = s.string(
        "name",
        network.CILIUM,
        doc="`cilium` (installed by this program, or already on an existing cluster) or "
        "`other` (existing mode: plain NetworkPolicy with `nodeCidrs`; no tenants).",
        choices=network.CNIS,
    )
    install = s.boolean(
        "install",
        ByProfile(dev=True, prod=mode == CAPI),
        doc="Install Cilium with this program (capi mode always does; dev's kind cluster "
        "has its default CNI disabled for it).",
    )
    replicas = load.replicas(
        s, "operatorReplicas", ByProfile(1, 2), doc="Cilium operator replicas.", maximum=3
    )
    nodes = s.strings(
        "nodeCidrs",
        doc="`other` only: CIDRs of the nodes and API server endpoints (ipBlock rules).",
        check=cidr,
    )
    s.close()
    if name == network.OTHER and (install or mode == CAPI):
        load.ctx.problem(
            s.key("name"),
            name,
            "this program installs only cilium; `other` needs existing mode and install: false",
        )
    if name == network.OTHER and not nodes:
        load.ctx.problem(
            s.key("nodeCidrs"), [], "required with `other`: the node addresses for ipBlock rules"
        )
    if name == network.CILIUM and nodes:
        load.ctx.problem(
            s.key("nodeCidrs"), list(nodes), "cilium policies use entities, not node CIDRs"
        )
    return CniSettings(name=name, install=bool(install), operator_replicas=replicas,
                       node_cidrs=nodes, small=not load.prod)  # fmt: skip


AWS_REGION = matches(r"[a-z]{2}(-[a-z]+)+-\d", "an AWS region such as eu-west-1")
AMI_ID = matches(r"ami-[0-9a-f]{8,17}", "an AMI id such as ami-0123456789abcdef0")
INSTANCE_TYPE = matches(r"[a-z][a-z0-9-]*\.[a-z0-9]+", "an EC2 instance type such as m6i.large")
PERCENT = matches(r"([1-9]|[1-9]\d)%", "a percentage below 100% such as 40%")


def _capi(load: Loader, cluster: Section, name: str, active: bool) -> CapiSettings | None:
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
    s.close()
    if not active or mgmt_context is None:
        return None
    context = _management_context(load, s, mgmt_path, mgmt_context)
    if context is None:
        return None
    return CapiSettings(
        management_kubeconfig=mgmt_path,
        management_context=context,
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


def _management_context(load: Loader, s: Section, path: str | None, context: str) -> str | None:
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
    return view.context


def _capi_aws(load: Loader, capi: Section, active: bool) -> CapiAwsSettings | None:
    req: Any = MISSING if active else None
    a = capi.section("aws", doc="capi + aws (CAPA).")
    region = a.string("region", req, doc="AWS region.", check=AWS_REGION)
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
    vpc, layout = _vpc(load, a, zones)
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


def _vpc(
    load: Loader, a: Section, zones: tuple[str, ...]
) -> tuple[str, tuple[subnets.ZoneSubnets, ...]]:
    """`cluster.capi.aws.network`: the VPC and its subnets, stated once."""
    n = a.section("network", doc="The VPC layout CAPA builds (AWSCluster spec.network).")
    vpc = n.string("vpcCidr", subnets.VPC_DEFAULT, doc="VPC CIDR.", check=cidr)
    layout: list[subnets.ZoneSubnets] = []
    for z in n.items(
        "subnets",
        doc="One entry per availability zone: {zone, private, public} CIDRs inside the VPC. "
        "Default: CAPA's own split of the VPC (private /18s, public /20s for a /16).",
    ):
        zone = z.string("zone", doc="Availability zone.")
        private = z.string("private", doc="Private subnet (the machines).", check=cidr)
        public = z.string("public", doc="Public subnet (NAT, API load balancer).", check=cidr)
        if zone and private and public:
            layout.append(subnets.ZoneSubnets(zone, private, public))
    n.close()
    if not vpc or cidr(vpc) is not None or not zones:
        return subnets.VPC_DEFAULT, ()
    if not layout:
        return vpc, subnets.capa_default(vpc, zones)
    for problem in subnets.problems(vpc, zones, tuple(layout)):
        load.ctx.problem(n.key("subnets"), [s.zone for s in layout], problem)
    return vpc, tuple(layout)


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

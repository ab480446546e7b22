"""SecurityBaseline's settings: the `security` section (tenants, RBAC, admission, TLS,
image scanning)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kernel.config import (
    CPU_QUANTITY,
    DNS_LABEL,
    DNS_NAME,
    EMAIL,
    MEMORY_QUANTITY,
    MISSING,
    ByProfile,
    Section,
    matches,
)
from kernel.loader import Loader
from kernel.namespaces import BY_NAME as PLATFORM_NAMESPACES

AUDIT = "Audit"
ENFORCE = "Enforce"
POLICY_MODES = (AUDIT, ENFORCE)

SELF_SIGNED_CA = "selfSignedCA"
ACME = "acme"
ISSUERS = (SELF_SIGNED_CA, ACME)
HTTP01 = "http01"
DNS01_ROUTE53 = "dns01-route53"
SOLVERS = (HTTP01, DNS01_ROUTE53)

# trivy-operator chart 0.34.0 ships operator 0.32.0 and trivy 0.72.0. Digests as pinned by
# independent public manifests (see docs/security.md "Image digests"); re-verify with
# `crane digest mirror.gcr.io/aquasec/trivy:0.72.0` before a bump.
TRIVY_OPERATOR_DIGEST = "sha256:d4a61c4607e2931bd2615bf3bcf8912669d11d194c44c77edd413e6301b50c5b"
TRIVY_SCANNER_DIGEST = "sha256:cffe3f5161a47a6823fbd23d985795b3ed72a4c806da4c4df16266c02accdd6f"


@dataclass(frozen=True)
class TenantQuota:
    requests_cpu: str = "2"
    requests_memory: str = "4Gi"
    limits_cpu: str = "4"
    limits_memory: str = "8Gi"
    pods: int = 20
    requests_storage: str = "20Gi"


@dataclass(frozen=True)
class ContainerLimits:
    """LimitRange: what a container gets when it states nothing, and the most it may ask."""

    default_request_cpu: str = "100m"
    default_request_memory: str = "128Mi"
    default_limit_cpu: str = "500m"
    default_limit_memory: str = "512Mi"
    max_cpu: str = "2"
    max_memory: str = "4Gi"


@dataclass(frozen=True)
class TenantExposure:
    hostnames: tuple[str, ...]
    port: int
    """The container port the Gateway's Envoy pods may reach in the tenant namespace."""
    key: str = ""
    """Its config key, for problems found across sections (hostnames vs `edge`)."""


@dataclass(frozen=True)
class TenantSettings:
    name: str
    developer_groups: tuple[str, ...] = ()
    viewer_groups: tuple[str, ...] = ()
    ci_deployer: bool = True
    api_server_egress: bool = False
    expose: TenantExposure | None = None
    """Published through the shared Gateway (None: the Gateway never reaches this tenant)."""
    quota: TenantQuota = field(default_factory=TenantQuota)
    limits: ContainerLimits = field(default_factory=ContainerLimits)


@dataclass(frozen=True)
class RbacSettings:
    platform_admin_groups: tuple[str, ...] = ()
    viewer_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class AdmissionSettings:
    mode: str = AUDIT
    admission_replicas: int = 1
    controller_replicas: int = 1
    require_ha_workloads: bool = False
    """Report tenant Deployments with < 2 replicas or without a PDB (always Audit)."""


@dataclass(frozen=True)
class AcmeSettings:
    email: str
    server: str
    solver: str
    gateway_name: str = "platform"
    gateway_namespace: str = "gateway"
    route53_region: str = ""
    route53_hosted_zone_id: str = ""


@dataclass(frozen=True)
class TlsSettings:
    issuer: str = SELF_SIGNED_CA
    replicas: int = 1
    gateway_api: bool = False
    acme: AcmeSettings | None = None


@dataclass(frozen=True)
class TrivySettings:
    enabled: bool = True
    operator_digest: str = ""
    scanner_digest: str = ""
    concurrent_scans: int = 1
    replicas: int = 1
    """>1 turns on the chart's leader election (OPERATOR_LEADER_ELECTION_ENABLED)."""


@dataclass(frozen=True)
class SecuritySettings:
    tenants: tuple[TenantSettings, ...] = field(default_factory=tuple)
    rbac: RbacSettings = field(default_factory=RbacSettings)
    admission: AdmissionSettings = field(default_factory=AdmissionSettings)
    tls: TlsSettings = field(default_factory=TlsSettings)
    trivy: TrivySettings = field(default_factory=TrivySettings)
    service_monitors: bool = True
    """Render the add-ons' ServiceMonitors (after the prometheus-operator CRDs)."""


def _group_list(section: Section, name: str, doc: str) -> tuple[str, ...]:
    return section.strings(name, doc=doc, check=_GROUP)


_GROUP = matches(r"[^\s*]+", "a group name without spaces or '*'")
_DIGEST = matches(r"sha256:[0-9a-f]{64}", "an image digest such as sha256:<64 hex>")
_CPU = CPU_QUANTITY
_MEM = MEMORY_QUANTITY


def _tenant(load: Loader, t: Section, name: str) -> TenantSettings:
    q = t.section("quota", doc="ResourceQuota of the tenant namespace (profile defaults).")
    quota = TenantQuota(
        requests_cpu=q.string(
            "requestsCpu", ByProfile("2", "8"), doc="Sum of CPU requests.", check=_CPU
        ),
        requests_memory=q.string(
            "requestsMemory", ByProfile("4Gi", "16Gi"), doc="Sum of memory requests.", check=_MEM
        ),
        limits_cpu=q.string(
            "limitsCpu", ByProfile("4", "16"), doc="Sum of CPU limits.", check=_CPU
        ),
        limits_memory=q.string(
            "limitsMemory", ByProfile("8Gi", "32Gi"), doc="Sum of memory limits.", check=_MEM
        ),
        pods=q.integer("pods", ByProfile(20, 100), doc="Maximum pods.", minimum=1),
        requests_storage=q.string(
            "requestsStorage",
            ByProfile("20Gi", "200Gi"),
            doc="Sum of PVC storage requests.",
            check=_MEM,
        ),
    )
    q.close()
    lr = t.section("limits", doc="LimitRange: per-container defaults and maximum.")
    limits = ContainerLimits(
        default_request_cpu=lr.string(
            "defaultRequestCpu", "100m", doc="CPU request when a container states none.", check=_CPU
        ),
        default_request_memory=lr.string(
            "defaultRequestMemory", "128Mi", doc="Memory request when none is stated.", check=_MEM
        ),
        default_limit_cpu=lr.string(
            "defaultLimitCpu", "500m", doc="CPU limit when none is stated.", check=_CPU
        ),
        default_limit_memory=lr.string(
            "defaultLimitMemory", "512Mi", doc="Memory limit when none is stated.", check=_MEM
        ),
        max_cpu=lr.string(
            "maxCpu", ByProfile("2", "4"), doc="Largest CPU limit per container.", check=_CPU
        ),
        max_memory=lr.string(
            "maxMemory",
            ByProfile("4Gi", "8Gi"),
            doc="Largest memory limit per container.",
            check=_MEM,
        ),
    )
    lr.close()
    expose = _expose(t)
    return TenantSettings(
        name=name,
        developer_groups=_group_list(
            t,
            "developerGroups",
            "Groups (e.g. OIDC) bound to `k8s-platform:tenant-developer` here (no network "
            "policy or RBAC writes).",
        ),
        viewer_groups=_group_list(
            t, "viewerGroups", "Groups bound to the built-in `view` role in this namespace."
        ),
        ci_deployer=t.boolean(
            "ciDeployer", True, doc="Create the least-privilege `ci-deployer` ServiceAccount."
        ),
        api_server_egress=t.boolean(
            "apiServerEgress",
            False,
            doc="Allow this tenant's pods to reach the Kubernetes API (operators only).",
        ),
        expose=expose,
        quota=quota,
        limits=limits,
    )


_HOSTNAME = DNS_NAME
"""A full DNS name: Gateway listener hostnames and certificate names (no wildcards)."""


def _expose(t: Section) -> TenantExposure | None:
    """`expose`: unset keeps the tenant unreachable from the Gateway. Hostnames are full
    names (any zone the platform issuer can prove: edge.domain, or the tenant's own)."""
    given = t.is_set("expose")
    e = t.section(
        "expose",
        doc="Publish this tenant through the shared Gateway: a listener per hostname that "
        "admits HTTPRoutes from this namespace only, a certificate, and an allow from Envoy.",
    )
    hostnames = e.strings(
        "hostnames",
        doc="Public hostnames (full DNS names, e.g. shop.<edge.domain>); required with expose.",
        check=_HOSTNAME,
    )
    if given and not e.is_set("hostnames"):
        t.ctx.problem(e.key("hostnames"), None, "required with expose (a list of DNS names)")
    port = e.integer(
        "port",
        8080,
        doc="Container port of the tenant's pods the Gateway may reach (the Service's "
        "targetPort your HTTPRoute points at).",
        minimum=1,
        maximum=65535,
    )
    e.close()
    if not given or not hostnames:
        return None
    return TenantExposure(hostnames=hostnames, port=port, key=e.key("hostnames"))


def load_section(load: Loader, root: Section) -> SecuritySettings:
    """The `security` section."""
    s = root.section("security", doc="SecurityBaseline.")
    tenants = _tenants(load, s)

    rbac = _rbac(s)

    admission = _admission(load, s)

    tls = _tls(load, s)

    trivy = _trivy(load, s)
    monitors = s.boolean(
        "serviceMonitors",
        True,
        doc="Render ServiceMonitors for cert-manager, Kyverno and trivy-operator (the "
        "platform alerts on certificates and CVEs read their metrics; docs/observability.md).",
    )
    load.prod_requires(s.key("serviceMonitors"), monitors, monitors, "the add-ons' ServiceMonitors")
    s.close()
    return SecuritySettings(
        tenants=tuple(tenants),
        rbac=rbac,
        admission=admission,
        tls=tls,
        trivy=trivy,
        service_monitors=monitors,
    )


def _tenants(load: Loader, s: Section) -> list[TenantSettings]:
    tenants: list[TenantSettings] = []
    seen: set[str] = set()
    for t in s.items("tenants", doc="Application namespaces the platform creates and isolates."):
        name = t.string("name", doc="Tenant namespace name.", check=DNS_LABEL)
        tenant = _tenant(load, t, name or "")
        if name and (name in PLATFORM_NAMESPACES or name.startswith("kube-") or name == "default"):
            load.ctx.problem(
                t.key("name"), name, "tenant names may not reuse a platform or system namespace"
            )
        elif name in seen:
            load.ctx.problem(t.key("name"), name, "tenant names must be unique")
        elif name:
            seen.add(name)
            tenants.append(tenant)
    return tenants


def _rbac(s: Section) -> RbacSettings:
    r = s.section("rbac", doc="Cluster-wide role bindings for groups from your identity provider.")
    rbac = RbacSettings(
        platform_admin_groups=_group_list(
            r, "platformAdminGroups", "Bound to the built-in `cluster-admin` ClusterRole."
        ),
        viewer_groups=_group_list(
            r, "viewerGroups", "Bound cluster-wide to the built-in `view` ClusterRole."
        ),
    )
    r.close()
    return rbac


def _admission(load: Loader, s: Section) -> AdmissionSettings:
    a = s.section("admission", doc="Kyverno admission policies.")
    mode = a.string(
        "mode",
        ByProfile(AUDIT, ENFORCE),
        doc="`Audit` reports violations, `Enforce` rejects them.",
        choices=POLICY_MODES,
    )
    load.prod_requires(a.key("mode"), mode == ENFORCE, mode, "admission.mode Enforce")
    replicas = load.replicas(
        a, "replicas", ByProfile(1, 3), doc="Kyverno admission controller replicas."
    )
    ctl = load.replicas(
        a,
        "controllerReplicas",
        ByProfile(1, 2),
        doc="Replicas of the background, cleanup and reports controllers.",
        maximum=5,
    )
    require_ha = a.boolean(
        "requireHaWorkloads",
        ByProfile(False, True),
        doc="Report (Audit) tenant Deployments with < 2 replicas or without a PDB.",
    )
    a.close()
    admission = AdmissionSettings(
        mode=mode,
        admission_replicas=replicas,
        controller_replicas=ctl,
        require_ha_workloads=require_ha,
    )
    return admission


def _tls(load: Loader, s: Section) -> TlsSettings:
    tls_s = s.section("tls", doc="cert-manager and the platform ClusterIssuer.")
    issuer = tls_s.string(
        "issuer",
        ByProfile(SELF_SIGNED_CA, ACME),
        doc="`selfSignedCA` (dev: a local CA) or `acme` (Let's Encrypt or another ACME CA).",
        choices=ISSUERS,
    )
    load.prod_requires(tls_s.key("issuer"), issuer == ACME, issuer, "a public ACME issuer")
    tls_replicas = load.replicas(
        tls_s,
        "replicas",
        ByProfile(1, 2),
        doc="Replicas of each cert-manager Deployment.",
        maximum=5,
    )
    gateway_api = tls_s.boolean(
        "gatewayApi",
        ByProfile(False, True),
        doc="cert-manager Gateway API support. Needs the Gateway API CRDs (EdgeGateway).",
    )
    acme = _acme(load, tls_s, issuer, gateway_api)
    tls_s.close()
    tls = TlsSettings(issuer=issuer, replicas=tls_replicas, gateway_api=gateway_api, acme=acme)
    return tls


def _acme(load: Loader, tls_s: Section, issuer: str, gateway_api: bool) -> AcmeSettings | None:
    acme = None
    acme_s = tls_s.section("acme", doc="ACME account and challenge solver (issuer: acme).")
    email = acme_s.string(
        "email", MISSING if issuer == ACME else None, doc="ACME account e-mail.", check=EMAIL
    )
    server = acme_s.string(
        "server",
        "https://acme-v02.api.letsencrypt.org/directory",
        doc="ACME directory URL (Let's Encrypt staging for tests).",
        check=matches(r"https://\S+", "an https URL"),
    )
    solver = acme_s.string(
        "solver",
        HTTP01,
        doc="`http01` through the platform Gateway, or `dns01-route53`.",
        choices=SOLVERS,
    )
    gw_name = acme_s.string(
        "gatewayName", "platform", doc="http01: the Gateway serving challenges.", check=DNS_LABEL
    )
    gw_ns = acme_s.string(
        "gatewayNamespace", "gateway", doc="http01: that Gateway's namespace.", check=DNS_LABEL
    )
    region = acme_s.string(
        "route53Region",
        None,
        doc="dns01-route53: AWS region (credentials come from IRSA / instance role).",
    )
    zone = acme_s.string("route53HostedZoneId", None, doc="dns01-route53: hosted zone ID.")
    acme_s.close()
    if issuer == ACME and solver == HTTP01 and not gateway_api:
        load.ctx.problem(
            tls_s.key("gatewayApi"),
            gateway_api,
            "acme.solver http01 answers through a Gateway; set gatewayApi: true or use "
            "dns01-route53",
        )
    if issuer == ACME and solver == DNS01_ROUTE53 and not region:
        load.ctx.problem(acme_s.key("route53Region"), region, "required for dns01-route53")
    if issuer == ACME and email:
        acme = AcmeSettings(
            email=email,
            server=server,
            solver=solver,
            gateway_name=gw_name,
            gateway_namespace=gw_ns,
            route53_region=region or "",
            route53_hosted_zone_id=zone or "",
        )
    return acme


def _trivy(load: Loader, s: Section) -> TrivySettings:
    tv = s.section("trivy", doc="trivy-operator image scanning.")
    trivy = TrivySettings(
        enabled=tv.boolean("enabled", True, doc="Scan workload images for vulnerabilities."),
        operator_digest=tv.string(
            "operatorDigest",
            TRIVY_OPERATOR_DIGEST,
            doc="Digest of mirror.gcr.io/aquasec/trivy-operator:0.32.0 (chart 0.34.0).",
            check=_DIGEST,
        ),
        scanner_digest=tv.string(
            "scannerDigest",
            TRIVY_SCANNER_DIGEST,
            doc="Digest of mirror.gcr.io/aquasec/trivy:0.72.0 (the scan job image).",
            check=_DIGEST,
        ),
        concurrent_scans=tv.integer(
            "concurrentScans", ByProfile(1, 3), doc="Scan jobs at once.", minimum=1, maximum=10
        ),
        # The chart turns on leader election above one replica (trivy-operator-config
        # ConfigMap: OPERATOR_LEADER_ELECTION_ENABLED), so a standby takes over.
        replicas=load.replicas(tv, "replicas", ByProfile(1, 2), doc="Operator replicas."),
    )
    tv.close()
    return trivy

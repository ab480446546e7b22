"""SecurityBaseline: namespaces, Pod Security, NetworkPolicies, RBAC, admission, TLS, scanning.

Every namespace the platform creates starts closed (PSA labels, default-deny, DNS and
same-namespace only) and gets explicit allows here. Admission policies are the
project's own Kyverno ClusterPolicies (visible and testable as objects) plus the
kyverno-policies chart for the Pod Security `restricted` set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from kernel import kube
from kernel.catalogue import chart
from kernel.namespaces import (
    CERT_MANAGER,
    KYVERNO,
    MONITORING,
    PLATFORM_NAMESPACES,
    POLICY_EXEMPT_NAMESPACES,
    RESTRICTED,
    TRIVY,
)

TYPE_TOKEN = "k8splatform:security:SecurityBaseline"

AUDIT = "Audit"
ENFORCE = "Enforce"
POLICY_MODES = (AUDIT, ENFORCE)

SELF_SIGNED_CA = "selfSignedCA"
ACME = "acme"
ISSUERS = (SELF_SIGNED_CA, ACME)
HTTP01 = "http01"
DNS01_ROUTE53 = "dns01-route53"
SOLVERS = (HTTP01, DNS01_ROUTE53)

TENANT_LABEL = "k8s-platform/tenant"

# trivy-operator chart 0.34.0 ships operator 0.32.0 and trivy 0.72.0. Digests as pinned by
# independent public manifests (see docs/security.md "Image digests"); re-verify with
# `crane digest mirror.gcr.io/aquasec/trivy:0.72.0` before a bump.
TRIVY_OPERATOR_DIGEST = "sha256:d4a61c4607e2931bd2615bf3bcf8912669d11d194c44c77edd413e6301b50c5b"
TRIVY_SCANNER_DIGEST = "sha256:cffe3f5161a47a6823fbd23d985795b3ed72a4c806da4c4df16266c02accdd6f"
API_SERVER_PORTS = (443, 6443)
# Webhook ports the API server calls (chart defaults: cert-manager webhook.securePort,
# Kyverno admissionController/cleanupController server port).
CERT_MANAGER_WEBHOOK_PORT = 10250
KYVERNO_WEBHOOK_PORT = 9443
PROMETHEUS_POD = {"app.kubernetes.io/name": "prometheus"}


# ---- settings -----------------------------------------------------------------------------


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
class TenantSettings:
    name: str
    developer_groups: tuple[str, ...] = ()
    viewer_groups: tuple[str, ...] = ()
    ci_deployer: bool = True
    api_server_egress: bool = False
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


@dataclass(frozen=True)
class SecuritySettings:
    tenants: tuple[TenantSettings, ...] = field(default_factory=tuple)
    api_server_cidrs: tuple[str, ...] = ("172.16.0.0/12",)
    rbac: RbacSettings = field(default_factory=RbacSettings)
    admission: AdmissionSettings = field(default_factory=AdmissionSettings)
    tls: TlsSettings = field(default_factory=TlsSettings)
    trivy: TrivySettings = field(default_factory=TrivySettings)
    service_monitors: bool = False
    """Render the add-ons' ServiceMonitors (needs the prometheus-operator CRDs)."""


@dataclass(frozen=True)
class SecurityBaselineArgs:
    settings: SecuritySettings
    provider: k8s.Provider
    pod_security_version: str
    """Kubernetes minor, e.g. 'v1.34'; pins the Pod Security labels."""
    monitoring_crds: Sequence[pulumi.Resource] = ()
    """The prometheus-operator CRDs, when `service_monitors` is on and they exist."""


# ---- component ----------------------------------------------------------------------------


class SecurityBaseline(pulumi.ComponentResource):
    namespaces: dict[str, pulumi.Output[str]]
    """Platform namespace name -> the created namespace (depend on it, not the string)."""
    tenant_namespaces: dict[str, pulumi.Output[str]]
    cluster_issuer: pulumi.Output[str]
    """ClusterIssuer for public hostnames (gateway listeners): ACME in prod."""
    internal_issuer: pulumi.Output[str]
    """CA ClusterIssuer for in-cluster TLS (webhook certificates); the same in every profile."""
    policy_mode: str
    """"Audit" or "Enforce": what the admission policies do with a violation."""

    def __init__(
        self, name: str, args: SecurityBaselineArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        s = args.settings
        self._s = s
        self._child = kube.child_opts(self, args.provider)
        self.policy_mode = s.admission.mode

        created: dict[str, k8s.core.v1.Namespace] = {}
        for spec in PLATFORM_NAMESPACES:
            created[spec.name] = kube.isolated_namespace(
                spec.name,
                pod_security=spec.pod_security,
                pod_security_version=args.pod_security_version,
                annotations=(
                    {"k8s-platform/pod-security-reason": spec.reason} if spec.reason else None
                ),
                opts=self._child,
            )
            self._allow_prometheus(spec.name, created[spec.name])
            if spec.api_access:
                self._allow_api_server(spec.name, created[spec.name])
        self.namespaces = {n: ns.metadata.name for n, ns in created.items()}

        tenants: dict[str, k8s.core.v1.Namespace] = {}
        for t in s.tenants:
            ns = kube.isolated_namespace(
                t.name,
                pod_security=RESTRICTED,
                pod_security_version=args.pod_security_version,
                labels={TENANT_LABEL: t.name},
                opts=self._child,
            )
            tenants[t.name] = ns
            self._allow_prometheus(t.name, ns)
            if t.api_server_egress:
                self._allow_api_server(t.name, ns)
            self._tenant_limits(t, ns)
            self._tenant_rbac(t, ns)
        self.tenant_namespaces = {n: ns.metadata.name for n, ns in tenants.items()}
        self._cluster_rbac()

        cert_manager = self._cert_manager(created[CERT_MANAGER], args.monitoring_crds)
        self.internal_issuer = self._internal_issuer(cert_manager)
        self.cluster_issuer = self._cluster_issuer(cert_manager, self.internal_issuer)
        kyverno = self._kyverno(created[KYVERNO], args.monitoring_crds)
        self._policies(kyverno)
        if s.trivy.enabled:
            self._trivy(created[TRIVY], args.monitoring_crds)

        self.register_outputs(
            {
                "namespaces": self.namespaces,
                "tenant_namespaces": self.tenant_namespaces,
                "cluster_issuer": self.cluster_issuer,
                "internal_issuer": self.internal_issuer,
                "policy_mode": self.policy_mode,
            }
        )

    # ---- helpers ---------------------------------------------------------------------------

    def _after(self, *deps: pulumi.Resource) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions.merge(
            self._child, pulumi.ResourceOptions(depends_on=list(deps))
        )

    def _api_peers(self) -> list[kube.Peer]:
        return [kube.cidr_peer(c) for c in self._s.api_server_cidrs]

    # ---- NetworkPolicies -------------------------------------------------------------------

    def _allow_prometheus(self, namespace: str, ns: k8s.core.v1.Namespace) -> None:
        """Prometheus scrapes every namespace; any port, because exporters differ."""
        if namespace == MONITORING:
            return  # covered by allow-same-namespace
        kube.network_policy(
            "allow-prometheus-scrape",
            namespace,
            self._after(ns),
            ingress_from=[kube.namespace_peer(MONITORING, PROMETHEUS_POD)],
            resource_name=f"{namespace}-allow-prometheus-scrape",
        )

    def _allow_api_server(self, namespace: str, ns: k8s.core.v1.Namespace) -> None:
        """The API server is not a pod: an ipBlock of its endpoints (post-DNAT addresses)."""
        kube.network_policy(
            "allow-api-server-egress",
            namespace,
            self._after(ns),
            egress_to=self._api_peers(),
            egress_ports=kube.tcp(*API_SERVER_PORTS),
            resource_name=f"{namespace}-allow-api-server-egress",
        )

    def _allow_webhook(self, namespace: str, ns: k8s.core.v1.Namespace, port: int) -> None:
        kube.network_policy(
            "allow-api-server-webhook",
            namespace,
            self._after(ns),
            ingress_from=self._api_peers(),
            ingress_ports=kube.tcp(port),
            resource_name=f"{namespace}-allow-api-server-webhook",
        )

    def _allow_internet(
        self,
        namespace: str,
        ns: k8s.core.v1.Namespace,
        suffix: str,
        ports: list[kube.Port],
        pod_selector: dict[str, str] | None = None,
    ) -> None:
        kube.network_policy(
            f"allow-{suffix}",
            namespace,
            self._after(ns),
            pod_selector=pod_selector,
            egress_to=[kube.cidr_peer("0.0.0.0/0")],
            egress_ports=ports,
            resource_name=f"{namespace}-allow-{suffix}",
        )

    # ---- tenants ---------------------------------------------------------------------------

    def _tenant_limits(self, t: TenantSettings, ns: k8s.core.v1.Namespace) -> None:
        opts = self._after(ns)
        q = t.quota
        k8s.core.v1.ResourceQuota(
            f"{t.name}-quota",
            metadata={"name": "tenant-quota", "namespace": t.name, "labels": kube.MANAGED_BY},
            spec={
                "hard": {
                    "requests.cpu": q.requests_cpu,
                    "requests.memory": q.requests_memory,
                    "limits.cpu": q.limits_cpu,
                    "limits.memory": q.limits_memory,
                    "pods": str(q.pods),
                    "requests.storage": q.requests_storage,
                    # No NodePort/LoadBalancer: tenants are exposed through the gateway.
                    "services.nodeports": "0",
                    "services.loadbalancers": "0",
                }
            },
            opts=opts,
        )
        lim = t.limits
        k8s.core.v1.LimitRange(
            f"{t.name}-limits",
            metadata=_any(
                {"name": "tenant-limits", "namespace": t.name, "labels": kube.MANAGED_BY}
            ),
            spec=_any(
                {
                    "limits": [
                        {
                            "type": "Container",
                            "defaultRequest": {
                                "cpu": lim.default_request_cpu,
                                "memory": lim.default_request_memory,
                            },
                            "default": {
                                "cpu": lim.default_limit_cpu,
                                "memory": lim.default_limit_memory,
                            },
                            "max": {"cpu": lim.max_cpu, "memory": lim.max_memory},
                        }
                    ]
                }
            ),
            opts=opts,
        )

    def _tenant_rbac(self, t: TenantSettings, ns: k8s.core.v1.Namespace) -> None:
        opts = self._after(ns)
        for builtin, groups in (("edit", t.developer_groups), ("view", t.viewer_groups)):
            if groups:
                _role_binding(f"{t.name}-{builtin}", t.name, builtin, groups, opts)
        if not t.ci_deployer:
            return
        meta: Any = {"name": "ci-deployer", "namespace": t.name, "labels": kube.MANAGED_BY}
        # No token in pods: CI gets a short-lived token through the TokenRequest API.
        sa = k8s.core.v1.ServiceAccount(
            f"{t.name}-ci-deployer",
            metadata=meta,
            automount_service_account_token=False,
            opts=opts,
        )
        role = k8s.rbac.v1.Role(
            f"{t.name}-ci-deployer",
            metadata=meta,
            rules=_any(CI_DEPLOYER_RULES),
            opts=opts,
        )
        k8s.rbac.v1.RoleBinding(
            f"{t.name}-ci-deployer",
            metadata=meta,
            role_ref=_ref("Role", "ci-deployer"),
            subjects=_any([{"kind": "ServiceAccount", "name": "ci-deployer", "namespace": t.name}]),
            opts=self._after(ns, sa, role),
        )

    def _cluster_rbac(self) -> None:
        r = self._s.rbac
        if r.platform_admin_groups:
            _cluster_role_binding(
                "platform-admins",
                "cluster-admin",
                r.platform_admin_groups,
                self._child,
                # The policy pack refuses cluster-admin bindings unless they say why.
                annotations={
                    "k8s-platform/allow-cluster-admin": (
                        "platform administrators from security.rbac.platformAdminGroups "
                        "operate the cluster itself"
                    )
                },
            )
        if r.viewer_groups:
            _cluster_role_binding("platform-viewers", "view", r.viewer_groups, self._child)

    # ---- cert-manager ----------------------------------------------------------------------

    def _cert_manager(
        self, ns: k8s.core.v1.Namespace, monitoring_crds: Sequence[pulumi.Resource]
    ) -> k8s.helm.v4.Chart:
        tls = self._s.tls
        self._allow_webhook(CERT_MANAGER, ns, CERT_MANAGER_WEBHOOK_PORT)
        if tls.issuer == ACME:
            # ACME directory and, for dns01, Route53 and the authoritative nameservers'
            # propagation check. Public endpoints without stable CIDRs: any address.
            ports = kube.tcp(443, 80)
            if tls.acme and tls.acme.solver == DNS01_ROUTE53:
                ports += [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
            self._allow_internet(
                CERT_MANAGER,
                ns,
                "acme-egress",
                ports,
                {"app.kubernetes.io/component": "controller"},
            )
        n = tls.replicas
        ha = n > 1

        def tier(cpu: str, memory: str) -> dict[str, Any]:
            return {
                "replicaCount": n,
                "podDisruptionBudget": {"enabled": ha, "minAvailable": 1},
                "resources": kube.resources(cpu, memory, memory_limit=_double(memory)),
            }

        values: dict[str, Any] = {
            "crds": {"enabled": True, "keep": True},
            **tier("25m", "64Mi"),
            "topologySpreadConstraints": _spread("controller") if ha else [],
            "webhook": {
                **tier("10m", "32Mi"),
                "topologySpreadConstraints": _spread("webhook") if ha else [],
            },
            "cainjector": {
                **tier("10m", "64Mi"),
                "topologySpreadConstraints": _spread("cainjector") if ha else [],
            },
            # startupapicheck is a Helm hook Job; Chart v4 drops hooks, so don't render it.
            "startupapicheck": {"enabled": False},
            "prometheus": {
                "enabled": True,
                "servicemonitor": {"enabled": self._s.service_monitors},
            },
        }
        if tls.gateway_api:
            values["config"] = {
                "apiVersion": "controller.config.cert-manager.io/v1alpha1",
                "kind": "ControllerConfiguration",
                "gatewayAPI": {"enabled": True},
            }
        deps: list[pulumi.Resource] = [ns, *self._monitoring_deps(monitoring_crds)]
        return kube.helm_chart(
            "cert-manager", chart("cert-manager"), CERT_MANAGER, values, self._after(*deps)
        )

    def _monitoring_deps(self, crds: Sequence[pulumi.Resource]) -> list[pulumi.Resource]:
        return list(crds) if self._s.service_monitors else []

    def _cluster_issuer(
        self, cert_manager: k8s.helm.v4.Chart, internal: pulumi.Output[str]
    ) -> pulumi.Output[str]:
        """The issuer for public names: ACME when configured, else the internal CA."""
        tls = self._s.tls
        if tls.issuer == ACME and tls.acme is not None:
            issuer = _custom(
                "cert-manager.io/v1",
                "ClusterIssuer",
                "letsencrypt",
                None,
                {"acme": _acme_spec(tls.acme)},
                self._after(cert_manager),
            )
            return _name_of(issuer, "letsencrypt")
        return internal

    def _internal_issuer(self, cert_manager: k8s.helm.v4.Chart) -> pulumi.Output[str]:
        """A CA issuer for in-cluster TLS (webhooks, service names ACME cannot validate).

        The standard bootstrap: a self-signed issuer signs one CA certificate, and a CA
        issuer signs everything else with it (one root to trust, not one per cert).
        """
        opts = self._after(cert_manager)
        bootstrap = _custom(
            "cert-manager.io/v1", "ClusterIssuer", "selfsigned-bootstrap", None,
            {"selfSigned": {}}, opts,
        )  # fmt: skip
        ca = _custom(
            "cert-manager.io/v1",
            "Certificate",
            "platform-ca",
            CERT_MANAGER,
            {
                "isCA": True,
                "commonName": "k8s-platform internal CA",
                "secretName": "platform-ca",
                "duration": "87600h",
                "privateKey": {"algorithm": "ECDSA", "size": 256},
                "issuerRef": {
                    "name": "selfsigned-bootstrap",
                    "kind": "ClusterIssuer",
                    "group": "cert-manager.io",
                },
            },
            self._after(cert_manager, bootstrap),
        )
        issuer = _custom(
            "cert-manager.io/v1",
            "ClusterIssuer",
            "platform-ca",
            None,
            {"ca": {"secretName": "platform-ca"}},
            self._after(cert_manager, ca),
        )
        return _name_of(issuer, "platform-ca")

    # ---- Kyverno ---------------------------------------------------------------------------

    def _kyverno(
        self, ns: k8s.core.v1.Namespace, monitoring_crds: Sequence[pulumi.Resource]
    ) -> k8s.helm.v4.Chart:
        a = self._s.admission
        self._allow_webhook(KYVERNO, ns, KYVERNO_WEBHOOK_PORT)
        monitor = {"enabled": self._s.service_monitors}

        def controller(replicas: int, cpu: str, memory: str) -> dict[str, Any]:
            return {
                "replicas": replicas,
                "podDisruptionBudget": {"enabled": replicas > 1, "minAvailable": 1},
                "resources": kube.resources(cpu, memory, memory_limit=_double(memory)),
                "serviceMonitor": monitor,
            }

        background = controller(a.controller_replicas, "50m", "64Mi")
        admission = controller(a.admission_replicas, "100m", "128Mi")
        # The admission controller nests its resources per container.
        admission_resources = admission.pop("resources")
        values: dict[str, Any] = {
            # Chart v4 drops Helm hooks: the CRD-migration post-upgrade Job and the
            # webhook-cleanup pre-delete Job would never run, so don't render them.
            # Pulumi applies CRD changes itself; see docs/security.md for uninstall.
            "crds": {"migration": {"enabled": False}},
            "webhooksCleanup": {"enabled": False},
            "admissionController": {
                **admission,
                "container": {"resources": admission_resources},
                "initContainer": {"resources": kube.resources("10m", "64Mi", memory_limit="256Mi")},
            },
            "backgroundController": _with_selector(background, "background-controller"),
            "cleanupController": _with_selector(background, "cleanup-controller"),
            "reportsController": _with_selector(background, "reports-controller"),
        }
        if a.admission_replicas > 1:
            values["admissionController"]["topologySpreadConstraints"] = _spread(
                "admission-controller"
            )
        deps: list[pulumi.Resource] = [ns, *self._monitoring_deps(monitoring_crds)]
        return kube.helm_chart("kyverno", chart("kyverno"), KYVERNO, values, self._after(*deps))

    def _policies(self, kyverno: k8s.helm.v4.Chart) -> None:
        mode = self.policy_mode
        opts = self._after(kyverno)
        # Pod Security Standards `restricted` as reported Kyverno policies. PSA labels
        # enforce the same standard at the namespace; these add PolicyReports.
        kube.helm_chart(
            "kyverno-policies",
            chart("kyverno-policies"),
            KYVERNO,
            {
                "podSecurityStandard": "restricted",
                "policyType": "ValidatingPolicy",
                "validationFailureAction": mode,
                "vpolExclude": {"excludeNamespaces": list(POLICY_EXEMPT_NAMESPACES)},
            },
            opts,
        )
        for policy in cluster_policies(mode, self._s.admission.require_ha_workloads):
            _custom(
                "kyverno.io/v1",
                "ClusterPolicy",
                policy["metadata"]["name"],
                None,
                policy["spec"],
                opts,
                annotations=policy["metadata"]["annotations"],
            )

    # ---- trivy-operator --------------------------------------------------------------------

    def _trivy(self, ns: k8s.core.v1.Namespace, monitoring_crds: Sequence[pulumi.Resource]) -> None:
        t = self._s.trivy
        # Scan jobs pull image manifests/layers and the vulnerability DB from public
        # registries (mirror.gcr.io, ghcr.io, any tenant registry): CDN-fronted, no stable CIDRs.
        self._allow_internet(TRIVY, ns, "registry-egress", kube.tcp(443))
        values: dict[str, Any] = {
            # Pinned by digest (tag kept for humans): Trivy's 2026-03 supply-chain compromise.
            "image": {"tag": f"0.32.0@{t.operator_digest}"},
            "trivy": {
                "image": {"tag": f"0.72.0@{t.scanner_digest}"},
                "resources": kube.resources(
                    "100m", "128Mi", cpu_limit="500m", memory_limit="512Mi"
                ),
            },
            "resources": kube.resources("50m", "128Mi", memory_limit="256Mi"),
            "operator": {
                "scanJobsConcurrentLimit": t.concurrent_scans,
                # These two run the node-collector (hostPath on kubelet/etcd files), which
                # would force trivy-system to `privileged`. CIS node checks belong to the
                # node image pipeline instead.
                "infraAssessmentScannerEnabled": False,
                "clusterComplianceEnabled": False,
                "metricsFindingsEnabled": True,
            },
            "trivyOperator": {
                "scanJobPodTemplatePodSecurityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": 65534,
                    "runAsGroup": 65534,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
            },
            "serviceMonitor": {"enabled": self._s.service_monitors},
        }
        deps: list[pulumi.Resource] = [ns, *self._monitoring_deps(monitoring_crds)]
        kube.helm_chart(
            "trivy-operator", chart("trivy-operator"), TRIVY, values, self._after(*deps)
        )


# ---- pure builders (tested directly) -------------------------------------------------------

CI_DEPLOYER_RULES: list[dict[str, Any]] = [
    {
        "apiGroups": ["apps"],
        "resources": ["deployments", "statefulsets", "replicasets"],
        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
    {
        "apiGroups": [""],
        "resources": ["services", "configmaps", "serviceaccounts", "persistentvolumeclaims"],
        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
    {"apiGroups": [""], "resources": ["pods", "events"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    {
        "apiGroups": ["batch"],
        "resources": ["jobs", "cronjobs"],
        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
    {
        "apiGroups": ["autoscaling"],
        "resources": ["horizontalpodautoscalers"],
        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
    {
        "apiGroups": ["policy"],
        "resources": ["poddisruptionbudgets"],
        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
    {
        "apiGroups": ["gateway.networking.k8s.io"],
        "resources": ["httproutes"],
        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
]
"""What a pipeline needs to roll out an app. No secrets (delivered by an external secret
store, not by CI), no roles or bindings (no privilege escalation), no NetworkPolicies."""


def _tenant_match(kinds: list[str]) -> dict[str, Any]:
    return {
        "any": [
            {
                "resources": {
                    "kinds": kinds,
                    "namespaceSelector": {
                        "matchExpressions": [{"key": TENANT_LABEL, "operator": "Exists"}]
                    },
                }
            }
        ]
    }


def _policy(name: str, title: str, description: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "annotations": {
                "policies.kyverno.io/title": title,
                "policies.kyverno.io/description": description,
                "policies.kyverno.io/severity": "medium",
            },
        },
        "spec": {"background": True, "rules": rules},
    }


def cluster_policies(mode: str, require_ha: bool) -> list[dict[str, Any]]:
    """The platform's own admission rules (Kyverno auto-generates the Deployment/Job/...
    variants from each Pod rule)."""
    containers = ["containers", "=(initContainers)"]

    def validate(message: str, pattern: dict[str, Any], action: str = mode) -> dict[str, Any]:
        return {"failureAction": action, "message": message, "pattern": pattern}

    tag = _policy(
        "disallow-latest-tag",
        "Disallow latest and untagged images",
        "Tenant images must carry an explicit tag other than latest (or a digest).",
        [
            {
                "name": "require-image-tag",
                "match": _tenant_match(["Pod"]),
                "validate": validate(
                    "An image tag is required (e.g. app:1.4.2 or app@sha256:...).",
                    {"spec": {c: [{"image": "*:*"}] for c in containers}},
                ),
            },
            {
                "name": "disallow-latest",
                "match": _tenant_match(["Pod"]),
                "validate": validate(
                    "The 'latest' tag is mutable; pin a version or digest.",
                    {"spec": {c: [{"image": "!*:latest"}] for c in containers}},
                ),
            },
        ],
    )
    resources = _policy(
        "require-requests-limits",
        "Require CPU and memory requests and limits",
        "Every tenant container states CPU and memory requests and limits.",
        [
            {
                "name": "require-requests-limits",
                "match": _tenant_match(["Pod"]),
                "validate": validate(
                    "CPU and memory requests and limits are required.",
                    {
                        "spec": {
                            c: [
                                {
                                    "resources": {
                                        "requests": {"cpu": "?*", "memory": "?*"},
                                        "limits": {"cpu": "?*", "memory": "?*"},
                                    }
                                }
                            ]
                            for c in containers
                        }
                    },
                ),
            }
        ],
    )
    probes = _policy(
        "require-probes",
        "Require readiness and liveness probes",
        "Long-running tenant containers declare readiness and liveness probes.",
        [
            {
                "name": "require-probes",
                "match": _tenant_match(["Pod"]),
                # Jobs finish on their own; probes make no sense there.
                "exclude": {
                    "any": [
                        {
                            "resources": {
                                "selector": {
                                    "matchExpressions": [
                                        {
                                            "key": "batch.kubernetes.io/job-name",
                                            "operator": "Exists",
                                        }
                                    ]
                                }
                            }
                        }
                    ]
                },
                "validate": validate(
                    "readinessProbe and livenessProbe are required.",
                    {
                        "spec": {
                            "containers": [
                                {
                                    "readinessProbe": {"periodSeconds": ">0"},
                                    "livenessProbe": {"periodSeconds": ">0"},
                                }
                            ]
                        }
                    },
                ),
            }
        ],
    )
    exempt = {"any": [{"resources": {"namespaces": list(POLICY_EXEMPT_NAMESPACES)}}]}
    privileged = _policy(
        "disallow-privileged-and-host-path",
        "Disallow privileged containers and hostPath volumes",
        "Only the namespaces listed in components/namespaces.py may run privileged pods "
        "or mount host paths.",
        [
            {
                "name": "disallow-privileged",
                "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                "exclude": exempt,
                "validate": validate(
                    "Privileged containers are not allowed here.",
                    {
                        "spec": {
                            f"=({c.strip('=()')})": [
                                {"=(securityContext)": {"=(privileged)": "false"}}
                            ]
                            for c in ("containers", "initContainers", "ephemeralContainers")
                        }
                    },
                ),
            },
            {
                "name": "disallow-host-path",
                "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                "exclude": exempt,
                "validate": validate(
                    "hostPath volumes are not allowed here.",
                    {"spec": {"=(volumes)": [{"X(hostPath)": "null"}]}},
                ),
            },
        ],
    )
    policies = [tag, resources, probes, privileged]
    if require_ha:
        ha = _policy(
            "require-ha-deployments",
            "Report single-replica Deployments and Deployments without a PDB",
            "In prod a tenant Deployment should run 2+ replicas behind a PodDisruptionBudget. "
            "Always Audit: it reports, it never blocks a rollout.",
            [
                {
                    "name": "require-two-replicas",
                    "match": _tenant_match(["Deployment"]),
                    "validate": validate(
                        "Run at least 2 replicas so a node drain does not take the app down.",
                        {"spec": {"replicas": ">=2"}},
                        AUDIT,
                    ),
                },
                {
                    "name": "require-pdb",
                    "match": _tenant_match(["Deployment"]),
                    "context": [
                        {
                            "name": "pdbs",
                            "apiCall": {
                                "urlPath": "/apis/policy/v1/namespaces/{{request.namespace}}"
                                "/poddisruptionbudgets",
                                "jmesPath": "items[?label_match(spec.selector.matchLabels, "
                                "`{{request.object.spec.template.metadata.labels}}`)]"
                                " | length(@)",
                            },
                        }
                    ],
                    "validate": {
                        "failureAction": AUDIT,
                        "message": "Add a PodDisruptionBudget that selects this Deployment.",
                        "deny": {
                            "conditions": {
                                "any": [{"key": "{{pdbs}}", "operator": "LessThan", "value": 1}]
                            }
                        },
                    },
                },
            ],
        )
        # The PDB lookup reads the live namespace; background scans have no request.
        ha["spec"]["background"] = False
        policies.append(ha)
    return policies


def _acme_spec(a: AcmeSettings) -> dict[str, Any]:
    if a.solver == HTTP01:
        solver: dict[str, Any] = {
            "http01": {
                "gatewayHTTPRoute": {
                    "parentRefs": [
                        {
                            "name": a.gateway_name,
                            "namespace": a.gateway_namespace,
                            "kind": "Gateway",
                            "group": "gateway.networking.k8s.io",
                        }
                    ]
                }
            }
        }
    else:
        # Ambient credentials (IRSA / instance role): no secret in state or values.
        route53: dict[str, Any] = {"region": a.route53_region}
        if a.route53_hosted_zone_id:
            route53["hostedZoneID"] = a.route53_hosted_zone_id
        solver = {"dns01": {"route53": route53}}
    return {
        "email": a.email,
        "server": a.server,
        "privateKeySecretRef": {"name": "letsencrypt-account-key"},
        "solvers": [solver],
    }


def _custom(  # noqa: PLR0917 - reads like the manifest: apiVersion, kind, name, namespace, spec
    api_version: str,
    kind: str,
    name: str,
    namespace: str | None,
    spec: dict[str, Any],
    opts: pulumi.ResourceOptions,
    *,
    annotations: dict[str, str] | None = None,
) -> k8s.apiextensions.CustomResource:
    metadata: dict[str, Any] = {"name": name, "labels": kube.MANAGED_BY}
    if namespace:
        metadata["namespace"] = namespace
    if annotations:
        metadata["annotations"] = annotations
    return k8s.apiextensions.CustomResource(
        f"{kind.lower()}-{name}",
        api_version=api_version,
        kind=kind,
        metadata=metadata,
        spec=spec,
        opts=opts,
    )


def _any(value: Any) -> Any:
    return value


def _ref(kind: str, name: str) -> Any:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name}


def _name_of(r: pulumi.CustomResource, name: str) -> pulumi.Output[str]:
    """`name`, known once `r` exists: consumers of the output wait for the object."""
    return r.id.apply(lambda _: name)


def _subjects(groups: Sequence[str]) -> Any:
    return [{"kind": "Group", "name": g, "apiGroup": "rbac.authorization.k8s.io"} for g in groups]


def _role_binding(
    name: str,
    namespace: str,
    role: str,
    groups: Sequence[str],
    opts: pulumi.ResourceOptions,
) -> None:
    """Bind groups to a built-in ClusterRole inside one namespace."""
    k8s.rbac.v1.RoleBinding(
        name,
        metadata=_any(
            {"name": f"tenant-{role}", "namespace": namespace, "labels": kube.MANAGED_BY}
        ),
        role_ref=_ref("ClusterRole", role),
        subjects=_subjects(groups),
        opts=opts,
    )


def _cluster_role_binding(
    name: str,
    role: str,
    groups: Sequence[str],
    opts: pulumi.ResourceOptions,
    annotations: Mapping[str, str] | None = None,
) -> None:
    k8s.rbac.v1.ClusterRoleBinding(
        name,
        metadata=_any(
            {
                "name": f"k8s-platform:{name}",
                "labels": kube.MANAGED_BY,
                "annotations": dict(annotations or {}),
            }
        ),
        role_ref=_ref("ClusterRole", role),
        subjects=_subjects(groups),
        opts=opts,
    )


def _spread(component: str) -> list[dict[str, Any]]:
    """Replicas across zones (soft) so one zone outage leaves a working webhook."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": {"app.kubernetes.io/component": component}},
        }
    ]


def _with_selector(values: dict[str, Any], component: str) -> dict[str, Any]:
    out = dict(values)
    if values["replicas"] > 1:
        out["topologySpreadConstraints"] = _spread(component)
    return out


def _double(memory: str) -> str:
    return f"{int(memory[:-2]) * 2}{memory[-2:]}"

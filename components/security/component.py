"""SecurityBaseline: namespaces, Pod Security, NetworkPolicies, RBAC, admission, TLS, scanning.

Every namespace the platform creates starts closed (PSA labels, default-deny, DNS and
same-namespace only) and gets explicit allows here. Admission policies are the
project's own Kyverno ClusterPolicies (visible and testable as objects) plus the
kyverno-policies chart for the Pod Security `restricted` set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.security import csr_approver, issuers, tenancy
from components.security.isolation import (
    DEVELOPER_ROLE,
    baseline,
    developer_role,
    kube_system_imds_deny,
)
from components.security.policies import TENANT_LABEL, cluster_policies
from components.security.rbac import (
    CI_DEPLOYER_RULES,
    as_input,
    cluster_role_binding,
    role_binding,
    role_ref,
)
from components.security.settings import ACME, DNS01_ROUTE53, SecuritySettings, TenantSettings
from components.security.values import (
    TRIVY_PODS,
    cert_manager_values,
    kyverno_values,
    trivy_values,
)
from kernel import kube
from kernel import network as net
from kernel.catalogue import chart
from kernel.contracts import ExposedTenant, KubeletServingCerts
from kernel.namespaces import (
    CERT_MANAGER,
    KUBELET_CSR_APPROVER,
    KYVERNO,
    MONITORING,
    PLATFORM_NAMESPACES,
    POLICY_EXEMPT_NAMESPACES,
    RESTRICTED,
    TRIVY,
)
from kernel.network import Network

TYPE_TOKEN = "k8splatform:security:SecurityBaseline"

# Webhook ports the API server calls (chart defaults: cert-manager webhook.securePort,
# Kyverno admissionController/cleanupController server port).
CERT_MANAGER_WEBHOOK_PORT = 10250
KYVERNO_WEBHOOK_PORT = 9443
PROMETHEUS_POD = {"app.kubernetes.io/name": "prometheus"}


@dataclass(frozen=True)
class SecurityBaselineArgs:
    settings: SecuritySettings
    provider: k8s.Provider
    pod_security_version: str
    """Kubernetes minor, e.g. 'v1.34'; pins the Pod Security labels."""
    network: Network = field(default_factory=Network)
    """The CNI the policies are written for (HAControlPlane.network)."""
    monitoring_crds: Sequence[pulumi.Resource] = ()
    """The prometheus-operator CRDs, when `service_monitors` is on and they exist."""
    kubelet_serving: KubeletServingCerts | None = None
    """HAControlPlane.kubelet_serving: install the approver for those CSRs."""


# ---- component ----------------------------------------------------------------------------


class SecurityBaseline(pulumi.ComponentResource):
    namespaces: dict[str, pulumi.Output[str]]
    """Platform namespace name -> the created namespace (depend on it, not the string)."""
    tenant_namespaces: dict[str, pulumi.Output[str]]
    exposed_tenants: tuple[ExposedTenant, ...]
    """Tenants that asked to be published through the shared Gateway (EdgeGateway)."""
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
        self._net = args.network
        self._child = kube.child_opts(self, args.provider)
        self.policy_mode = s.admission.mode

        created = self._platform_namespaces(args.pod_security_version)
        self.namespaces = {n: ns.metadata.name for n, ns in created.items()}
        tenants = self._tenants(args.pod_security_version)
        self.tenant_namespaces = {n: ns.metadata.name for n, ns in tenants.items()}
        self.exposed_tenants = tuple(
            ExposedTenant(tenants[t.name].metadata.name, t.name, t.expose.hostnames, t.expose.port)
            for t in s.tenants
            if t.expose
        )
        self._cluster_rbac()
        tenancy.admission_rules(self._child)
        self.priority_classes = tenancy.priority_classes(self._child)
        if self._net.cilium:
            kube_system_imds_deny(self._after(*self._net.ready))

        # Issuers wait for the cert-manager Chart itself (its webhook is failurePolicy Fail
        # and startupapicheck, a hook, never runs under Chart v4).
        cert_manager = self._cert_manager(created[CERT_MANAGER], args.monitoring_crds)
        after_cert_manager = self._after(cert_manager)
        self.internal_issuer = issuers.internal_issuer(after_cert_manager)
        self.cluster_issuer = issuers.cluster_issuer(
            s.tls, after_cert_manager, self.internal_issuer
        )
        kyverno = self._kyverno(created[KYVERNO], args.monitoring_crds)
        self._policies(kyverno)
        if s.trivy.enabled:
            self._trivy(created[TRIVY], args.monitoring_crds)
        if args.kubelet_serving is not None:
            deps = [created[KUBELET_CSR_APPROVER], *self._monitoring_deps(args.monitoring_crds)]
            approver = (args.kubelet_serving, KUBELET_CSR_APPROVER, s.service_monitors)
            csr_approver.install(*approver, self._after(*deps))

        self.register_outputs(
            {
                "namespaces": self.namespaces,
                "tenant_namespaces": self.tenant_namespaces,
                "cluster_issuer": self.cluster_issuer,
                "internal_issuer": self.internal_issuer,
                "policy_mode": self.policy_mode,
            }
        )

    # ---- namespaces ------------------------------------------------------------------------

    def _platform_namespaces(self, version: str) -> dict[str, k8s.core.v1.Namespace]:
        """Every platform namespace, closed, open to Prometheus' scrapes and, where its
        controllers need it, to the API server."""
        created: dict[str, k8s.core.v1.Namespace] = {}
        for spec in PLATFORM_NAMESPACES:
            created[spec.name] = kube.isolated_namespace(
                spec.name,
                pod_security=spec.pod_security,
                pod_security_version=version,
                annotations=(
                    {"k8s-platform/pod-security-reason": spec.reason} if spec.reason else None
                ),
                opts=self._child,
            )
            self._allow_prometheus(spec.name, created[spec.name])
            if spec.api_access:
                self._allow_api_server(spec.name, created[spec.name])
        return created

    def _tenants(self, version: str) -> dict[str, k8s.core.v1.Namespace]:
        """Each tenant's namespace with its limits, RBAC and isolation fence."""
        tenants: dict[str, k8s.core.v1.Namespace] = {}
        if self._s.tenants:
            developer_role(self._child)
        for t in self._s.tenants:
            ns = kube.isolated_namespace(
                t.name,
                pod_security=RESTRICTED,
                pod_security_version=version,
                labels={TENANT_LABEL: t.name},
                opts=self._child,
            )
            tenants[t.name] = ns
            self._allow_prometheus(t.name, ns)
            if t.api_server_egress:
                self._allow_api_server(t.name, ns)
            tenancy.tenant_limits(t, self._after(ns))
            self._tenant_rbac(t, ns)
            self._tenant_baseline(t, ns)
        return tenants

    # ---- helpers ---------------------------------------------------------------------------

    def _after(self, *deps: pulumi.Resource) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions.merge(
            self._child, pulumi.ResourceOptions(depends_on=list(deps))
        )

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
        """Operators and controllers to the API server (an entity under Cilium)."""
        net.entity_policy(
            "allow-api-server-egress",
            namespace,
            self._net,
            self._after(ns),
            egress_to=net.API_SERVER,
            egress_ports=net.API_SERVER_PORTS,
            resource_name=f"{namespace}-allow-api-server-egress",
        )

    def _allow_webhook(
        self, namespace: str, ns: k8s.core.v1.Namespace, port: int, pods: dict[str, str]
    ) -> None:
        """The API server calls the webhook pods (from its node: an entity under Cilium)."""
        net.entity_policy(
            "allow-api-server-webhook",
            namespace,
            self._net,
            self._after(ns),
            pod_selector=pods,
            ingress_from=net.API_SERVER,
            ingress_ports=[port],
            resource_name=f"{namespace}-allow-api-server-webhook",
        )

    def _allow_internet(
        self,
        namespace: str,
        ns: k8s.core.v1.Namespace,
        suffix: str,
        ports: list[int],
        pod_selector: dict[str, str] | None = None,
    ) -> None:
        net.entity_policy(
            f"allow-{suffix}",
            namespace,
            self._net,
            self._after(ns),
            pod_selector=pod_selector,
            egress_to=net.WORLD,
            egress_ports=ports,
            resource_name=f"{namespace}-allow-{suffix}",
        )

    # ---- tenants ---------------------------------------------------------------------------

    def _tenant_rbac(self, t: TenantSettings, ns: k8s.core.v1.Namespace) -> None:
        opts = self._after(ns)
        if t.developer_groups:
            role_binding(f"{t.name}-developer", t.name, DEVELOPER_ROLE, t.developer_groups, opts)
        if t.viewer_groups:
            role_binding(f"{t.name}-view", t.name, "view", t.viewer_groups, opts)
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
            rules=as_input(CI_DEPLOYER_RULES),
            opts=opts,
        )
        k8s.rbac.v1.RoleBinding(
            f"{t.name}-ci-deployer",
            metadata=meta,
            role_ref=role_ref("Role", "ci-deployer"),
            subjects=as_input(
                [{"kind": "ServiceAccount", "name": "ci-deployer", "namespace": t.name}]
            ),
            opts=self._after(ns, sa, role),
        )

    def _tenant_baseline(self, t: TenantSettings, ns: k8s.core.v1.Namespace) -> None:
        """The cluster-wide deny fence (settings refuse tenants on a CNI without it)."""
        baseline(
            t.name, t.api_server_egress, t.expose is not None, self._after(ns, *self._net.ready)
        )

    def _cluster_rbac(self) -> None:
        r = self._s.rbac
        if r.platform_admin_groups:
            cluster_role_binding(
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
            cluster_role_binding("platform-viewers", "view", r.viewer_groups, self._child)

    # ---- cert-manager ----------------------------------------------------------------------

    def _cert_manager(
        self, ns: k8s.core.v1.Namespace, monitoring_crds: Sequence[pulumi.Resource]
    ) -> k8s.helm.v4.Chart:
        tls = self._s.tls
        self._allow_webhook(
            CERT_MANAGER, ns, CERT_MANAGER_WEBHOOK_PORT, {"app.kubernetes.io/component": "webhook"}
        )
        if tls.issuer == ACME:
            # ACME directory and, for dns01, Route53 and the authoritative nameservers'
            # propagation check. Public endpoints without stable CIDRs: any address.
            ports = [443, 80]
            if tls.acme and tls.acme.solver == DNS01_ROUTE53:
                ports.append(53)  # TCP: the propagation check against authoritative servers
            self._allow_internet(
                CERT_MANAGER,
                ns,
                "acme-egress",
                ports,
                {"app.kubernetes.io/component": "controller"},
            )
        values = cert_manager_values(tls, self._s.service_monitors)
        deps = [ns, *self.priority_classes, *self._monitoring_deps(monitoring_crds)]
        return kube.helm_chart(
            "cert-manager", chart("cert-manager"), CERT_MANAGER, values, self._after(*deps)
        )

    def _monitoring_deps(self, crds: Sequence[pulumi.Resource]) -> list[pulumi.Resource]:
        return list(crds) if self._s.service_monitors else []

    # ---- Kyverno ---------------------------------------------------------------------------

    def _kyverno(
        self, ns: k8s.core.v1.Namespace, monitoring_crds: Sequence[pulumi.Resource]
    ) -> k8s.helm.v4.Chart:
        a = self._s.admission
        self._allow_webhook(
            KYVERNO, ns, KYVERNO_WEBHOOK_PORT, {"app.kubernetes.io/part-of": "kyverno"}
        )
        values = kyverno_values(a, self._s.service_monitors)
        deps = [ns, *self.priority_classes, *self._monitoring_deps(monitoring_crds)]
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
            kube.custom_resource(
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
        self._allow_internet(TRIVY, ns, "registry-egress", [443])
        values = trivy_values(t, self._s.service_monitors)
        deps: list[pulumi.Resource] = [ns, *self._monitoring_deps(monitoring_crds)]
        release = kube.helm_chart(
            "trivy-operator", chart("trivy-operator"), TRIVY, values, self._after(*deps)
        )
        if t.replicas > 1:
            # The chart renders no PodDisruptionBudget.
            k8s.policy.v1.PodDisruptionBudget(
                "trivy-operator-pdb",
                metadata=k8s.meta.v1.ObjectMetaArgs(name="trivy-operator", namespace=TRIVY),
                spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                    min_available=1,
                    selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(TRIVY_PODS)),
                ),
                opts=self._after(ns, release),
            )

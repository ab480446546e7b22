"""kubelet-csr-approver (postfinance): approves `kubernetes.io/kubelet-serving` CSRs,
which kube-controller-manager never does (kubernetes/kubernetes#73356), after checking
each against its node: the requester is `system:node:<name>`, every DNS name matches the
cluster's node-name pattern and resolves to the CSR's IPs, every IP lies in the node
network (chart values providerRegex, bypassDnsResolution, providerIpPrefixes; README of
postfinance/kubelet-csr-approver v1.2.14). Only where HAControlPlane sets
serverTLSBootstrap (kernel.contracts.KubeletServingCerts).
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from kernel import kube
from kernel.catalogue import chart
from kernel.contracts import KubeletServingCerts

RELEASE = "kubelet-csr-approver"
# The chart's selectorLabels (templates/_helpers.tpl): name + instance (the release).
PODS = {"app.kubernetes.io/name": RELEASE, "app.kubernetes.io/instance": RELEASE}
REPLICAS = 2
"""Leader-elected: one approves, the other takes over; new nodes wait for neither."""


def approver_values(c: KubeletServingCerts, service_monitors: bool) -> dict[str, Any]:
    return {
        "replicas": REPLICAS,
        "leaderElection": True,
        "providerRegex": c.node_name_regex,
        "providerIpPrefixes": list(c.ip_prefixes),
        "bypassDnsResolution": not c.resolve_dns,
        # The kubelet asks for its hostname only (Hostname and InternalDNS are the same
        # EC2 name); a second name is refused.
        "allowedDnsNames": 1,
        "metrics": {"enable": True, "serviceMonitor": {"enabled": service_monitors}},
        "resources": kube.resources("20m", "64Mi", cpu_limit="500m", memory_limit="128Mi"),
        # The chart has no topologySpreadConstraints value: spread by anti-affinity.
        "affinity": {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "topologyKey": "topology.kubernetes.io/zone",
                            "labelSelector": {"matchLabels": PODS},
                        },
                    }
                ]
            }
        },
        # The chart renders no PodDisruptionBudget: add one through its extraObjects.
        "extraObjects": [
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": {
                    "name": RELEASE,
                    "namespace": "{{ .Release.Namespace }}",
                    "labels": dict(kube.MANAGED_BY),
                },
                "spec": {"minAvailable": 1, "selector": {"matchLabels": PODS}},
            }
        ],
    }


def install(
    c: KubeletServingCerts,
    namespace: pulumi.Input[str],
    service_monitors: bool,
    opts: pulumi.ResourceOptions,
) -> k8s.helm.v4.Chart:
    return kube.helm_chart(
        RELEASE, chart(RELEASE), namespace, approver_values(c, service_monitors), opts
    )

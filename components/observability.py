"""ObservabilityStack: metrics, alerts, logs and dashboards."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import kube
from components.catalogue import chart

TYPE_TOKEN = "k8splatform:observability:ObservabilityStack"


@dataclass(frozen=True)
class ObservabilitySettings:
    metrics_server_replicas: int


@dataclass(frozen=True)
class ObservabilityStackArgs:
    settings: ObservabilitySettings
    provider: k8s.Provider
    namespace: pulumi.Input[str]
    storage_class: pulumi.Input[str]


class ObservabilityStack(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: ObservabilityStackArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        s = args.settings
        child = kube.child_opts(self, args.provider)
        kube.helm_chart(
            "metrics-server",
            chart("metrics-server"),
            args.namespace,
            {
                "replicas": s.metrics_server_replicas,
                "podDisruptionBudget": {
                    "enabled": s.metrics_server_replicas > 1,
                    "minAvailable": 1,
                },
                "resources": kube.resources("50m", "64Mi", cpu_limit="200m", memory_limit="128Mi"),
            },
            child,
        )
        self.register_outputs({})

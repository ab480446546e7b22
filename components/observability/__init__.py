"""ObservabilityStack: metrics, alerts, logs and dashboards."""

from components.observability.component import ObservabilityStack, ObservabilityStackArgs

__all__ = ["ObservabilityStack", "ObservabilityStackArgs"]

"""EdgeGateway: Gateway API CRDs, Envoy Gateway and the shared HTTPS Gateway."""

from components.edge.component import EdgeGateway, EdgeGatewayArgs

__all__ = ["EdgeGateway", "EdgeGatewayArgs"]

"""SecurityBaseline: namespaces, Pod Security, NetworkPolicies, RBAC, admission, TLS."""

from components.security.component import SecurityBaseline, SecurityBaselineArgs

__all__ = ["SecurityBaseline", "SecurityBaselineArgs"]

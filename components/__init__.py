"""Reusable Pulumi components for a production Kubernetes platform."""

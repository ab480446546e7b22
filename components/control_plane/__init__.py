"""HAControlPlane: the cluster (existing, or built through Cluster API) and its provider."""

from components.control_plane.component import HAControlPlane, HAControlPlaneArgs

__all__ = ["HAControlPlane", "HAControlPlaneArgs"]

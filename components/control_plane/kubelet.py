"""What the kubelets' serving-certificate requests look like in capi mode, for the
approver SecurityBaseline installs (kernel.contracts.KubeletServingCerts).

The KubeadmConfig names each node `{{ ds.meta_data.local_hostname }}` (capi_objects): on
AWS the EC2 private DNS name `ip-<a>-<b>-<c>-<d>.<region>.compute.internal` (us-east-1:
`.ec2.internal`; EC2 user guide, "Amazon EC2 instance hostname types", IP name), which VPC
DNS resolves to the node's private address in the VPC CIDR. Only AWS machines get the
serverTLSBootstrap patch (capi_objects.kubelet_patch_file); CAPD kubelets sign their own.
"""

from __future__ import annotations

import re

from components.control_plane import capi_objects
from components.control_plane.settings import CAPI, ClusterSettings
from kernel.contracts import KubeletServingCerts

IP_NAME = r"ip-\d{1,3}(-\d{1,3}){3}"


def ec2_domain(region: str) -> str:
    return "ec2.internal" if region == "us-east-1" else f"{region}.compute.internal"


def serving_certs(s: ClusterSettings) -> KubeletServingCerts | None:
    """None where this program does not set serverTLSBootstrap (existing mode, CAPD)."""
    c = s.capi
    if s.mode != CAPI or c is None or c.infrastructure != capi_objects.AWS or c.aws is None:
        return None
    return KubeletServingCerts(
        node_name_regex=f"^{IP_NAME}\\.{re.escape(ec2_domain(c.aws.region))}$",
        ip_prefixes=(c.aws.vpc_cidr,),
        resolve_dns=True,
    )

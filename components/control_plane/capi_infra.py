"""The infrastructure provider's objects for HAControlPlane's `capi` mode: CAPA's AWSCluster
and AWSMachineTemplate (with the security group rules the CNI and the scrapes need) and
CAPD's Dev* kinds for the local stack. Pure builders, like capi_objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.control_plane.capi_objects import AWS, DOCKER


@dataclass(frozen=True)
class InfraKinds:
    cluster: str
    machine_template: str


INFRA_KINDS = {
    AWS: InfraKinds("AWSCluster", "AWSMachineTemplate"),
    # CAPI >= v1.13 test provider kinds (DockerCluster/DockerMachineTemplate are deprecated).
    DOCKER: InfraKinds("DevCluster", "DevMachineTemplate"),
}


def _rule(description: str, protocol: str, from_port: int, to_port: int) -> dict[str, Any]:
    return {
        "description": description,
        "protocol": protocol,
        "fromPort": from_port,
        "toPort": to_port,
    }


# Cilium's ports between nodes (cilium Documentation/operations/system_requirements.rst
# "Firewall Rules": VXLAN 8472/udp, health 4240/tcp and ICMP echo among all nodes) and the
# ports Prometheus/metrics-server scrape on other nodes. CAPA adds each cniIngressRule to
# the control-plane and node security groups with those two groups as the only sources
# (pkg/cloud/services/securitygroup/securitygroups.go); unset, it opens Calico's ports.
CNI_INGRESS_RULES = (
    _rule("Cilium VXLAN overlay", "udp", 8472, 8472),
    _rule("Cilium health checks", "tcp", 4240, 4240),
    _rule("Cilium health checks (ICMP echo)", "icmp", 8, 0),
    _rule("node-exporter scraped by Prometheus", "tcp", 9100, 9100),
    _rule(
        "kubelet (Prometheus, metrics-server; CAPA opens it on workers only)", "tcp", 10250, 10250
    ),
)
# Control-plane metrics Prometheus scrapes from a worker: etcd 2381, controller-manager
# 10257, scheduler 10259 (the KubeadmControlPlane binds them beyond 127.0.0.1).
CONTROL_PLANE_METRICS_RULES = tuple(
    {**_rule(what, "tcp", port, port), "sourceSecurityGroupRoles": ["controlplane", "node"]}
    for what, port in (
        ("etcd metrics", 2381),
        ("kube-controller-manager metrics", 10257),
        ("kube-scheduler metrics", 10259),
    )
)


def aws_cluster_spec(
    *,
    region: str,
    ssh_key_name: str,
    network: dict[str, Any],
    api_cidrs: tuple[str, ...],
    bastion: bool,
) -> dict[str, Any]:
    return {
        "region": region,
        "sshKeyName": ssh_key_name,
        "network": {
            **network,
            "cni": {"cniIngressRules": list(CNI_INGRESS_RULES)},
            "additionalControlPlaneIngressRules": list(CONTROL_PLANE_METRICS_RULES),
        },
        "controlPlaneLoadBalancer": {
            "loadBalancerType": "nlb",
            "scheme": "internet-facing",
            "healthCheckProtocol": "HTTPS",
            # Custom rules replace CAPA's default 0.0.0.0/0; the list always carries the
            # management cluster's egress CIDRs or CAPI loses its own API access.
            "ingressRules": [
                {
                    "description": "Kubernetes API (allow-list + management cluster)",
                    "protocol": "tcp",
                    "fromPort": 6443,
                    "toPort": 6443,
                    "cidrBlocks": list(api_cidrs),
                }
            ],
        },
        "bastion": {"enabled": bastion},
    }


def dev_cluster_spec(failure_domains: tuple[str, ...]) -> dict[str, Any]:
    return {
        "backend": {
            "docker": {
                "failureDomains": [{"name": fd, "controlPlane": True} for fd in failure_domains]
            }
        }
    }


def aws_machine_template_spec(
    *, instance_type: str, profile: str, ssh_key_name: str, ami_id: str, root_gb: int
) -> dict[str, Any]:
    return {
        "template": {
            "spec": {
                "instanceType": instance_type,
                "iamInstanceProfile": profile,
                "sshKeyName": ssh_key_name,
                "ami": {"id": ami_id},
                "rootVolume": {"size": root_gb, "encrypted": True},
                # IMDSv2 only; hop limit 2 keeps IMDS reachable from hostNetwork pods.
                "instanceMetadataOptions": {
                    "httpTokens": "required",
                    "httpPutResponseHopLimit": 2,
                    "httpEndpoint": "enabled",
                },
            }
        }
    }


def dev_machine_template_spec(*, control_plane: bool) -> dict[str, Any]:
    docker: dict[str, Any] = {}
    if control_plane:
        docker["extraMounts"] = [
            {"containerPath": "/var/run/docker.sock", "hostPath": "/var/run/docker.sock"}
        ]
    return {"template": {"spec": {"backend": {"docker": docker}}}}

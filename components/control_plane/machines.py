"""HAControlPlane's objects on the management cluster: the infrastructure cluster, machine
templates, the KubeadmControlPlane, worker MachineDeployments and health checks.

Functions of the component (each takes the component's child options through
`_OnManagement`), kept apart so the component itself stays readable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.control_plane import authn, capi_infra, subnets
from components.control_plane import capi_objects as capi
from components.control_plane.settings import CapiSettings, ClusterSettings
from kernel import kube


def meta(ns: str, obj: str, **extra: Any) -> Any:
    return {"name": obj, "namespace": ns, "labels": dict(kube.MANAGED_BY), **extra}


@dataclass(frozen=True)
class OnManagement:
    """Objects in the Cluster's namespace on the management cluster, deleted with it."""

    namespace: str
    child: pulumi.ResourceOptions

    def meta(self, obj: str, **extra: Any) -> Any:
        return meta(self.namespace, obj, **extra)

    def cr(self, resource: str, api: str, kind: str, obj: str, spec: Any, **kw: Any) -> Any:
        opts = (
            self.child
            if not kw
            else pulumi.ResourceOptions.merge(self.child, pulumi.ResourceOptions(**kw))
        )
        return k8s.apiextensions.CustomResource(
            resource, api_version=api, kind=kind, metadata=self.meta(obj), spec=spec, opts=opts
        )


def infra_spec(c: CapiSettings) -> dict[str, Any]:
    aws = c.aws
    if aws is not None:
        return capi_infra.aws_cluster_spec(
            region=aws.region,
            ssh_key_name=aws.ssh_key_name,
            network=subnets.network_spec(aws.vpc_cidr, aws.availability_zones, aws.subnets),
            api_cidrs=aws.ingress_cidrs,
            bastion=aws.bastion,
        )
    return capi_infra.dev_cluster_spec(c.failure_domains)


def machine_template(
    on: OnManagement,
    name: str,
    c: CapiSettings,
    *,
    role: str,
    instance_type: str,
    profile: str,
    disk: int,
) -> Any:
    aws = c.aws
    if aws is not None:
        spec = capi_infra.aws_machine_template_spec(
            instance_type=instance_type,
            profile=f"{profile}.cluster-api-provider-aws.sigs.k8s.io",
            ssh_key_name=aws.ssh_key_name,
            ami_id=aws.ami_id,
            root_gb=disk,
        )
    else:
        spec = capi_infra.dev_machine_template_spec(control_plane=role == "control-plane")
    obj = f"{name}-{role}-{capi.spec_hash(spec)}"
    # A new name is a new resource: create the replacement before deleting the
    # old template, which the rollout still references until it finishes.
    kind = capi_infra.INFRA_KINDS[c.infrastructure].machine_template
    return on.cr(f"{name}-{role}-template", capi.INFRA_API, kind, obj, spec)


def control_plane(
    on: OnManagement,
    s: ClusterSettings,
    c: CapiSettings,
    template: Any,
    *,
    encryption_secret: str,
    hooks: pulumi.ResourceHookBinding | None,
) -> k8s.apiextensions.CustomResource:
    name, aws = s.name, c.aws
    waits = ["condition=Available", capi.version_wait(s.kubernetes_version)]
    return k8s.apiextensions.CustomResource(
        f"{name}-control-plane",
        api_version=capi.CONTROL_PLANE_API,
        kind="KubeadmControlPlane",
        metadata=on.meta(
            f"{name}-control-plane",
            # Available alone can be stale during an upgrade; the version wait is not.
            annotations={"pulumi.com/waitFor": json.dumps(waits)},
        ),
        spec=template.metadata.apply(
            lambda m: authn.with_authentication(
                capi.kubeadm_control_plane_spec(
                    replicas=c.control_plane_replicas,
                    version=s.kubernetes_version,
                    infra_kind=capi_infra.INFRA_KINDS[c.infrastructure].machine_template,
                    template_name=m["name"],
                    encryption_secret=encryption_secret,
                    external_cloud=aws is not None,
                    extra_sans=() if aws else ("localhost", "127.0.0.1", "host.docker.internal"),
                ),
                s.authentication,
                s.kubernetes_version,
            )
        ),
        opts=pulumi.ResourceOptions.merge(
            on.child,
            pulumi.ResourceOptions(
                hooks=hooks,
                custom_timeouts=pulumi.CustomTimeouts(create="60m", update="90m"),
            ),
        ),
    )


def workers(
    on: OnManagement, s: ClusterSettings, c: CapiSettings, template: Any, kcp: pulumi.Resource
) -> None:
    """One MachineDeployment per failure domain, sized by the cluster-autoscaler."""
    name = s.name
    bootstrap_spec = capi.kubeadm_config_template_spec(external_cloud=c.aws is not None)
    bootstrap_name = f"{name}-workers-{capi.spec_hash(bootstrap_spec)}"
    on.cr(
        f"{name}-workers-bootstrap",
        capi.BOOTSTRAP_API,
        "KubeadmConfigTemplate",
        bootstrap_name,
        bootstrap_spec,
    )
    for fd in c.failure_domains:
        md_name = f"{name}-md-{fd}"
        k8s.apiextensions.CustomResource(
            md_name,
            api_version=capi.CLUSTER_API,
            kind="MachineDeployment",
            metadata=on.meta(
                md_name,
                annotations={
                    capi.AUTOSCALER_MIN: str(c.workers_min_per_zone),
                    capi.AUTOSCALER_MAX: str(c.workers_max_per_zone),
                },
            ),
            spec=template.metadata.apply(
                lambda m, fd=fd: capi.machine_deployment_spec(
                    cluster=name,
                    pool=f"md-{fd}",
                    version=s.kubernetes_version,
                    failure_domain=fd,
                    bootstrap_template=bootstrap_name,
                    infra_kind=capi_infra.INFRA_KINDS[c.infrastructure].machine_template,
                    infra_template=m["name"],
                )
            ),
            # Belt and braces: the autoscaler owns replicas even if one appears.
            opts=pulumi.ResourceOptions.merge(
                on.child,
                pulumi.ResourceOptions(ignore_changes=["spec.replicas"], depends_on=[kcp]),
            ),
        )


def health_checks(on: OnManagement, name: str, c: CapiSettings, cni: pulumi.Resource) -> None:
    """Health checks start only once the CNI is installed: until then every node is
    NotReady, and remediation would recycle machines that are merely waiting."""
    on.cr(
        f"{name}-control-plane-unhealthy",
        capi.CLUSTER_API,
        "MachineHealthCheck",
        f"{name}-control-plane-unhealthy",
        capi.machine_health_check_spec(
            cluster=name,
            selector={"cluster.x-k8s.io/control-plane": ""},
            # KCP itself refuses remediation that would break etcd quorum.
            max_unhealthy="100%",
            startup_seconds=1200,
        ),
        depends_on=[cni],
    )
    on.cr(
        f"{name}-workers-unhealthy",
        capi.CLUSTER_API,
        "MachineHealthCheck",
        f"{name}-workers-unhealthy",
        capi.machine_health_check_spec(
            cluster=name,
            selector={"k8s-platform.io/node-group": "workers"},
            max_unhealthy=c.max_unhealthy_workers,
            startup_seconds=900,
        ),
        depends_on=[cni],
    )

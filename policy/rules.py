"""The k8s-platform CrossGuard rules: plain functions plus their Policy objects.

Importable without starting a policy server (the pack itself is `policy/__main__.py`),
so tests run every rule in-process. Rules match resource *shapes* (type tokens and
kinds), never specific resource names, so they cover whatever the components render:
objects the program creates and, at `pulumi preview`, the children of every Chart v4.

Enforcement: the pack defaults to MANDATORY; `policy/config/dev.json` turns every rule
ADVISORY for dev (`{"all": "advisory"}`), `policy/config/prod.json` keeps them mandatory
and carries the reviewed allow-lists.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from kernel.catalogue import CHARTS
from kernel.namespaces import PLATFORM_NAMESPACES

# ---- shared vocabulary -------------------------------------------------------------------

ALLOW_LB_ANNOTATION = "k8s-platform/allow-load-balancer"
ALLOW_CLUSTER_ADMIN_ANNOTATION = "k8s-platform/allow-cluster-admin"
SINGLETON_ANNOTATION = "k8s-platform/singleton"
EXEMPT_NAMESPACES = frozenset(
    {ns.name for ns in PLATFORM_NAMESPACES if ns.policy_exempt} | {"kube-system"}
)
"""Namespaces where privileged pods and hostPath are allowed (kernel/namespaces.py)."""
PLATFORM = frozenset(ns.name for ns in PLATFORM_NAMESPACES)
HA_KINDS = ("Deployment", "StatefulSet")
CHART_TYPES = ("kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Release")
KCP_KIND = "KubeadmControlPlane"
SEMVER = re.compile(r"v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?")
SYSTEM_SUBJECT = re.compile(r"system:.*")


def kind_of(resource_type: str) -> str:
    """'kubernetes:apps/v1:Deployment' -> 'Deployment'; '' for non-Kubernetes types."""
    if not resource_type.startswith("kubernetes:") or resource_type.startswith(
        "kubernetes:helm.sh/"
    ):
        return ""
    return resource_type.rsplit(":", 1)[-1]


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    # Sequence, not list: the analyzer wraps props in read-only proxies.
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(value)
    return []


def metadata(props: Mapping[str, Any]) -> Mapping[str, Any]:
    return _dict(props.get("metadata"))


def ident(props: Mapping[str, Any], fallback: str) -> str:
    meta = metadata(props)
    name = meta.get("name") or fallback
    ns = meta.get("namespace")
    return f"{ns}/{name}" if ns else str(name)


def pod_spec(kind: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The PodSpec inside any workload kind, or None for non-workloads."""
    spec = _dict(props.get("spec"))
    if kind == "Pod":
        return spec
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        return _dict(_dict(spec.get("template")).get("spec"))
    if kind == "CronJob":
        job = _dict(_dict(spec.get("jobTemplate")).get("spec"))
        return _dict(_dict(job.get("template")).get("spec"))
    return None


def containers(spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in _list(spec.get(key)):
            yield _dict(c)


def _config(args: ResourceValidationArgs | StackValidationArgs) -> Mapping[str, Any]:
    return _dict(args.get_config())


# ---- resource rules ------------------------------------------------------------------------

Validate = Callable[[ResourceValidationArgs, ReportViolation], None]


PodCheck = Callable[
    [str, Mapping[str, Any], Mapping[str, Any], ResourceValidationArgs, ReportViolation], None
]


def _workload(validate: PodCheck) -> Validate:
    """Run `validate(what, props, pod_spec, args, report)` for workload kinds only."""

    def run(args: ResourceValidationArgs, report: ReportViolation) -> None:
        kind = kind_of(args.resource_type)
        spec = pod_spec(kind, args.props) if kind else None
        if spec is None:
            return
        validate(f"{kind} {ident(args.props, args.name)}", args.props, spec, args, report)

    return run


def _namespace(props: Mapping[str, Any]) -> str:
    return str(metadata(props).get("namespace") or "default")


def check_control_plane_replicas(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if kind_of(args.resource_type) != KCP_KIND:
        return
    replicas = _dict(args.props.get("spec")).get("replicas")
    if not isinstance(replicas, int | float) or replicas < 3 or int(replicas) % 2 == 0:
        report(
            f"{KCP_KIND} {ident(args.props, args.name)} has replicas={replicas!r}: etcd quorum "
            "needs an odd number of at least 3 control-plane machines (3 or 5).",
            None,
        )


def _privileged(
    what: str,
    props: Mapping[str, Any],
    spec: Mapping[str, Any],
    args: ResourceValidationArgs,
    report: ReportViolation,
) -> None:
    exempt = EXEMPT_NAMESPACES | set(_list(_config(args).get("exemptNamespaces")))
    if _namespace(props) in exempt:
        return
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(flag) is True:
            report(f"{what} sets {flag}: only exempt namespaces {sorted(exempt)} may.", None)
    for v in _list(spec.get("volumes")):
        if "hostPath" in _dict(v):
            report(f"{what} mounts hostPath volume {_dict(v).get('name')!r}.", None)
    for c in containers(spec):
        if _dict(c.get("securityContext")).get("privileged") is True:
            report(f"{what} container {c.get('name')!r} is privileged.", None)


check_no_privileged = _workload(_privileged)


def _hardened(
    what: str,
    props: Mapping[str, Any],
    spec: Mapping[str, Any],
    args: ResourceValidationArgs,
    report: ReportViolation,
) -> None:
    """The Pod Security `restricted` container rules, checked before admission does."""
    exempt = EXEMPT_NAMESPACES | set(_list(_config(args).get("exemptNamespaces")))
    if _namespace(props) in exempt:
        return
    pod_ctx = _dict(spec.get("securityContext"))
    for c in containers(spec):
        ctx = _dict(c.get("securityContext"))
        name = c.get("name")
        if ctx.get("allowPrivilegeEscalation") is not False:
            report(f"{what} container {name!r}: set allowPrivilegeEscalation: false.", None)
        if "ALL" not in _list(_dict(ctx.get("capabilities")).get("drop")):
            report(f"{what} container {name!r}: drop ALL capabilities.", None)
        if ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot")) is not True:
            report(f"{what} container {name!r}: set runAsNonRoot: true.", None)


check_containers_hardened = _workload(_hardened)


def image_problem(image: Any) -> str | None:
    if not isinstance(image, str) or not image:
        return "has no image"
    if "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image {image!r} has no tag (pulls :latest)"
    if last.rsplit(":", 1)[1] == "latest":
        return f"image {image!r} uses :latest"
    return None


def _images(
    what: str,
    props: Mapping[str, Any],
    spec: Mapping[str, Any],
    args: ResourceValidationArgs,
    report: ReportViolation,
) -> None:
    for c in containers(spec):
        problem = image_problem(c.get("image"))
        if problem:
            report(f"{what} container {c.get('name')!r} {problem}; pin a version.", None)


check_images_pinned = _workload(_images)


def _resources(
    what: str,
    props: Mapping[str, Any],
    spec: Mapping[str, Any],
    args: ResourceValidationArgs,
    report: ReportViolation,
) -> None:
    for c in containers(spec):
        res = _dict(c.get("resources"))
        missing = [
            f"{part}.{key}"
            for part in ("requests", "limits")
            for key in ("cpu", "memory")
            if not _dict(res.get(part)).get(key)
        ]
        if missing:
            report(f"{what} container {c.get('name')!r} lacks resources {missing}.", None)


check_resources_set = _workload(_resources)


def check_no_load_balancer(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if kind_of(args.resource_type) != "Service":
        return
    if _dict(args.props.get("spec")).get("type") != "LoadBalancer":
        return
    who = ident(args.props, args.name)
    reason = _dict(metadata(args.props).get("annotations")).get(ALLOW_LB_ANNOTATION)
    if (isinstance(reason, str) and reason.strip()) or who in _list(
        _config(args).get("allowLoadBalancers")
    ):
        return
    report(
        f"Service {who} is type LoadBalancer (a public cloud load balancer). Annotate it "
        f'`{ALLOW_LB_ANNOTATION}: "<reason>"` or list "{who}" in allowLoadBalancers.',
        None,
    )


CHART_LABEL = "helm.sh/chart"


def pinned_label(label: str) -> str | None:
    """The `helm.sh/chart` label (`<name>-<version>`, '+' as '_') the catalogue's pin of the
    chart that `label` names would render; None for charts outside the catalogue."""
    names = [name for name in CHARTS if label.startswith(f"{name}-")]
    if not names:
        return None
    name = max(names, key=len)  # kyverno-policies-3.9.0 is kyverno-policies, not kyverno
    return f"{name}-{CHARTS[name].version.replace('+', '_')}"


def check_chart_pinned(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type in CHART_TYPES:
        # The provider registers a Chart v4 without its inputs (pulumi-kubernetes
        # provider/pkg/provider/helm/v4/chart.go, Construct): the engine hands the pack no
        # version, and its children's labels below carry it. A Release has its inputs.
        if "chart" not in args.props:
            return
        version = args.props.get("version")
        if not isinstance(version, str) or not SEMVER.fullmatch(version):
            report(
                f"Helm chart {args.props.get('chart')!r} version {version!r} is not an exact "
                "semver: pin it in kernel/catalogue.py (ranges and 'latest' change under you).",
                None,
            )
        return
    label = _dict(metadata(args.props).get("labels")).get(CHART_LABEL)
    expected = pinned_label(label) if isinstance(label, str) else None
    if expected and label != expected:
        report(
            f"{kind_of(args.resource_type)} {ident(args.props, args.name)} comes from "
            f"{label}, not the catalogue's pin {expected} (kernel/catalogue.py).",
            None,
        )


WILDCARD_FIELDS = ("verbs", "resources", "apiGroups")


def check_no_wildcard_rbac(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if kind_of(args.resource_type) not in ("Role", "ClusterRole"):
        return
    who = ident(args.props, args.name)
    if who in _list(_config(args).get("allowWildcardRoles")):
        return
    for i, rule in enumerate(_list(args.props.get("rules"))):
        bad = [f for f in WILDCARD_FIELDS if "*" in _list(_dict(rule).get(f))]
        if bad:
            report(f"{kind_of(args.resource_type)} {who} rule {i} uses '*' in {bad}.", None)


def _subject_is_system(subject: Mapping[str, Any]) -> bool:
    name = str(subject.get("name", ""))
    if subject.get("kind") == "ServiceAccount":
        return subject.get("namespace") == "kube-system"
    return bool(SYSTEM_SUBJECT.fullmatch(name))


def check_no_cluster_admin(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if kind_of(args.resource_type) not in ("ClusterRoleBinding", "RoleBinding"):
        return
    if _dict(args.props.get("roleRef")).get("name") != "cluster-admin":
        return
    if _dict(metadata(args.props).get("annotations")).get(ALLOW_CLUSTER_ADMIN_ANNOTATION):
        return  # a deliberate, reviewed grant: the annotation carries the reason
    allowed = set(_list(_config(args).get("allowClusterAdmin")))
    for s in _list(args.props.get("subjects")):
        subject = _dict(s)
        label = f"{subject.get('kind')}:{subject.get('namespace', '')}/{subject.get('name')}"
        if not _subject_is_system(subject) and label not in allowed:
            report(
                f"{ident(args.props, args.name)} binds cluster-admin to {label}; bind a "
                "narrower role, annotate the binding "
                f'`{ALLOW_CLUSTER_ADMIN_ANNOTATION}: "<reason>"` or list the subject in '
                "allowClusterAdmin.",
                None,
            )


ENCRYPTING_PROVISIONERS = {"ebs.csi.aws.com": "encrypted", "kubernetes.io/aws-ebs": "encrypted"}
"""Provisioners whose encryption is a StorageClass parameter we can check."""


def check_storage_class(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if kind_of(args.resource_type) != "StorageClass":
        return
    who = ident(args.props, args.name)
    if args.props.get("allowVolumeExpansion") is not True:
        report(f"StorageClass {who}: set allowVolumeExpansion: true (full disks grow).", None)
    param = ENCRYPTING_PROVISIONERS.get(str(args.props.get("provisioner")))
    if param and str(_dict(args.props.get("parameters")).get(param)).lower() != "true":
        report(f"StorageClass {who}: set parameters.{param}: 'true' (encryption at rest).", None)


# ---- stack rules ---------------------------------------------------------------------------


def _is_default_deny(props: Mapping[str, Any]) -> bool:
    spec = _dict(props.get("spec"))
    return (
        not _dict(spec.get("podSelector")).get("matchLabels")
        and not _dict(spec.get("podSelector")).get("matchExpressions")
        and {"Ingress", "Egress"} <= set(_list(spec.get("policyTypes")))
        and not _list(spec.get("ingress"))
        and not _list(spec.get("egress"))
    )


def check_namespaces_isolated(args: StackValidationArgs, report: ReportViolation) -> None:
    denied = {
        _namespace(r.props)
        for r in args.resources
        if kind_of(r.resource_type) == "NetworkPolicy" and _is_default_deny(r.props)
    }
    for r in args.resources:
        if kind_of(r.resource_type) != "Namespace":
            continue
        name = metadata(r.props).get("name") or r.name
        labels = _dict(metadata(r.props).get("labels"))
        missing = [
            f"pod-security.kubernetes.io/{mode}"
            for mode in ("enforce", "warn", "audit")
            if not labels.get(f"pod-security.kubernetes.io/{mode}")
        ]
        if missing:
            report(f"Namespace {name} lacks Pod Security labels {missing}.", r.urn)
        if name not in denied:
            report(
                f"Namespace {name} has no default-deny NetworkPolicy (empty podSelector, "
                "Ingress+Egress, no rules); use kube.isolated_namespace().",
                r.urn,
            )


def _selects(pdb: Mapping[str, Any], template_labels: Mapping[str, Any]) -> bool:
    wanted = _dict(_dict(_dict(pdb.get("spec")).get("selector")).get("matchLabels"))
    return bool(wanted) and all(template_labels.get(k) == v for k, v in wanted.items())


def check_platform_workloads_ha(args: StackValidationArgs, report: ReportViolation) -> None:
    config = _config(args)
    singletons = set(_list(config.get("allowSingleReplica")))
    pdbs = [r for r in args.resources if kind_of(r.resource_type) == "PodDisruptionBudget"]
    for r in args.resources:
        kind = kind_of(r.resource_type)
        if kind not in HA_KINDS or _namespace(r.props) not in PLATFORM:
            continue
        who = ident(r.props, r.name)
        reason = _dict(metadata(r.props).get("annotations")).get(SINGLETON_ANNOTATION)
        if who in singletons or (isinstance(reason, str) and reason.strip()):
            continue
        spec = _dict(r.props.get("spec"))
        replicas = spec.get("replicas", 1)
        if not isinstance(replicas, int | float) or replicas < 2:
            report(
                f"{kind} {who} runs {replicas!r} replica(s); platform workloads need >= 2.", r.urn
            )
        labels = _dict(metadata(_dict(spec.get("template"))).get("labels"))
        if not any(
            _namespace(p.props) == _namespace(r.props) and _selects(p.props, labels) for p in pdbs
        ):
            report(f"{kind} {who} has no PodDisruptionBudget selecting its pods.", r.urn)


def _chart_has_schedules(props: Mapping[str, Any]) -> bool:
    chart = str(props.get("chart", ""))
    return chart.rsplit("/", 1)[-1] == "velero" and bool(
        _dict(_dict(props.get("values")).get("schedules"))
    )


def check_backups_scheduled(args: StackValidationArgs, report: ReportViolation) -> None:
    if _config(args).get("required", True) is False:
        return
    for r in args.resources:
        if r.resource_type.startswith("kubernetes:velero.io/") and kind_of(r.resource_type) == (
            "Schedule"
        ):
            return
        if r.resource_type in CHART_TYPES and _chart_has_schedules(r.props):
            return
    report(
        "No backup schedule: expected a velero.io Schedule or a velero chart with `schedules`.",
        None,
    )


# ---- the policies ----------------------------------------------------------------------------


def _strings(name: str, description: str) -> PolicyConfigSchema:
    return PolicyConfigSchema(
        properties={
            name: {"type": "array", "items": {"type": "string"}, "description": description}
        }
    )


EXEMPT_SCHEMA = _strings("exemptNamespaces", "Extra namespaces exempt from pod hardening.")

RESOURCE_POLICIES: list[ResourceValidationPolicy] = [
    ResourceValidationPolicy(
        name="control-plane-replicas-odd-ha",
        description="KubeadmControlPlane replicas must be odd and at least 3 (etcd quorum).",
        validate=check_control_plane_replicas,
        severity=Severity.CRITICAL,
    ),
    ResourceValidationPolicy(
        name="no-privileged-pods",
        description="No privileged containers, host namespaces or hostPath outside exempt "
        "namespaces.",
        validate=check_no_privileged,
        config_schema=EXEMPT_SCHEMA,
        severity=Severity.CRITICAL,
    ),
    ResourceValidationPolicy(
        name="containers-hardened",
        description="Containers run as non-root, without privilege escalation, with ALL "
        "capabilities dropped (Pod Security restricted).",
        validate=check_containers_hardened,
        config_schema=EXEMPT_SCHEMA,
        severity=Severity.HIGH,
    ),
    ResourceValidationPolicy(
        name="images-pinned",
        description="Container images carry an explicit tag or digest, never latest.",
        validate=check_images_pinned,
        severity=Severity.HIGH,
    ),
    ResourceValidationPolicy(
        name="resources-set",
        description="Every container sets CPU and memory requests and limits.",
        validate=check_resources_set,
        severity=Severity.MEDIUM,
    ),
    ResourceValidationPolicy(
        name="no-unapproved-load-balancers",
        description="Services of type LoadBalancer need an approval annotation or allow-list "
        "entry.",
        validate=check_no_load_balancer,
        config_schema=_strings("allowLoadBalancers", "namespace/name of approved Services."),
        severity=Severity.HIGH,
    ),
    ResourceValidationPolicy(
        name="helm-charts-pinned",
        description="Helm charts, and the objects they render, are at the catalogue's exact pin.",
        validate=check_chart_pinned,
        severity=Severity.HIGH,
    ),
    ResourceValidationPolicy(
        name="no-wildcard-rbac",
        description="Roles and ClusterRoles do not grant '*' verbs, resources or API groups.",
        validate=check_no_wildcard_rbac,
        config_schema=_strings("allowWildcardRoles", "[namespace/]name of reviewed roles."),
        severity=Severity.HIGH,
    ),
    ResourceValidationPolicy(
        name="no-cluster-admin-bindings",
        description="cluster-admin is bound only to system subjects.",
        validate=check_no_cluster_admin,
        config_schema=_strings("allowClusterAdmin", "Kind:namespace/name of allowed subjects."),
        severity=Severity.CRITICAL,
    ),
    ResourceValidationPolicy(
        name="storage-classes-safe",
        description="StorageClasses allow volume expansion and encrypt where the provisioner "
        "supports it.",
        validate=check_storage_class,
        severity=Severity.MEDIUM,
    ),
]

STACK_POLICIES: list[StackValidationPolicy] = [
    StackValidationPolicy(
        name="namespaces-isolated",
        description="Every Namespace has Pod Security labels and a default-deny NetworkPolicy.",
        validate=check_namespaces_isolated,
        severity=Severity.HIGH,
    ),
    StackValidationPolicy(
        name="platform-workloads-ha",
        description="Platform Deployments and StatefulSets run >= 2 replicas with a PDB.",
        validate=check_platform_workloads_ha,
        config_schema=_strings(
            "allowSingleReplica", "namespace/name of reviewed single-replica workloads."
        ),
        severity=Severity.HIGH,
    ),
    StackValidationPolicy(
        name="backups-scheduled",
        description="A Velero backup schedule exists.",
        validate=check_backups_scheduled,
        config_schema=PolicyConfigSchema(
            properties={"required": {"type": "boolean", "default": True}}
        ),
        severity=Severity.HIGH,
    ),
]

ALL_POLICIES: list[ResourceValidationPolicy | StackValidationPolicy] = [
    *RESOURCE_POLICIES,
    *STACK_POLICIES,
]

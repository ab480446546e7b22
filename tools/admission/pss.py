"""Pod Security Standards checks (baseline and restricted), as listed in the
Kubernetes doc "Pod Security Standards" (kubernetes.io/docs/concepts/security/
pod-security-standards/, policy version latest = v1.35), used by Pod Security
Admission (pod-security.kubernetes.io/enforce) and Kyverno `validate.podSecurity`.

Each check returns the violation text or None. Check ids follow the PSA source
(k8s.io/pod-security-admission/policy): hostProcess, hostNamespaces, privileged,
capabilities_baseline, hostPathVolumes, hostPorts, appArmorProfile,
seLinuxOptions, procMount, seccompProfile_baseline, sysctls, hostProbesAndHostLifecycle;
restricted adds restrictedVolumes, allowPrivilegeEscalation, runAsNonRoot,
runAsUser, seccompProfile_restricted, capabilities_restricted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

Obj = dict[str, Any]

_BASELINE_CAPS = frozenset(
    [
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    ]
)
_SAFE_SYSCTLS = frozenset(
    [
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    ]
)
_SELINUX_TYPES = frozenset(
    {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)
_RESTRICTED_VOLUMES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
_VOLUME_META = frozenset({"name"})


def containers(spec: Obj) -> Iterator[Obj]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(key) or []


def _sc(c: Obj) -> Obj:
    return c.get("securityContext") or {}


def _names(items: list[str], what: str) -> str | None:
    return f"{what}: {', '.join(items)}" if items else None


def _is_windows(spec: Obj) -> bool:
    return (spec.get("os") or {}).get("name") == "windows"


def host_process(md: Obj, spec: Obj) -> str | None:
    pod = ((spec.get("securityContext") or {}).get("windowsOptions") or {}).get("hostProcess")
    bad = [
        c["name"]
        for c in containers(spec)
        if (_sc(c).get("windowsOptions") or {}).get("hostProcess")
    ]
    return _names((["pod"] if pod else []) + bad, "hostProcess=true")


def host_namespaces(md: Obj, spec: Obj) -> str | None:
    return _names(
        [f for f in ("hostNetwork", "hostPID", "hostIPC") if spec.get(f)], "host namespaces"
    )


def privileged(md: Obj, spec: Obj) -> str | None:
    return _names(
        [c["name"] for c in containers(spec) if _sc(c).get("privileged")], "privileged containers"
    )


def capabilities_baseline(md: Obj, spec: Obj) -> str | None:
    bad = [
        f"{c['name']}+{cap}"
        for c in containers(spec)
        for cap in (_sc(c).get("capabilities") or {}).get("add") or []
        if cap not in _BASELINE_CAPS
    ]
    return _names(bad, "non-default capabilities added")


def host_path_volumes(md: Obj, spec: Obj) -> str | None:
    return _names(
        [v["name"] for v in spec.get("volumes") or [] if "hostPath" in v], "hostPath volumes"
    )


def host_ports(md: Obj, spec: Obj) -> str | None:
    bad = [
        f"{c['name']}:{p['hostPort']}"
        for c in containers(spec)
        for p in c.get("ports") or []
        if p.get("hostPort")
    ]
    return _names(bad, "hostPort")


def app_armor(md: Obj, spec: Obj) -> str | None:
    ok = ("RuntimeDefault", "Localhost")
    bad = []
    if ((spec.get("securityContext") or {}).get("appArmorProfile") or {}).get(
        "type", "RuntimeDefault"
    ) not in ok:
        bad.append("pod")
    bad += [
        c["name"]
        for c in containers(spec)
        if (_sc(c).get("appArmorProfile") or {}).get("type", "RuntimeDefault") not in ok
    ]
    for k, v in (md.get("annotations") or {}).items():
        prefixed = k.startswith("container.apparmor.security.beta.kubernetes.io/")
        if prefixed and v != "runtime/default" and not str(v).startswith("localhost/"):
            bad.append(f"annotation {k}={v}")
    return _names(bad, "AppArmor profile not RuntimeDefault/Localhost")


def selinux(md: Obj, spec: Obj) -> str | None:
    scs = [("pod", spec.get("securityContext") or {})] + [
        (c["name"], _sc(c)) for c in containers(spec)
    ]
    bad = []
    for who, sc in scs:
        opts = sc.get("seLinuxOptions") or {}
        if opts.get("type", "") not in _SELINUX_TYPES or opts.get("user") or opts.get("role"):
            bad.append(who)
    return _names(bad, "forbidden seLinuxOptions")


def proc_mount(md: Obj, spec: Obj) -> str | None:
    bad = [c["name"] for c in containers(spec) if _sc(c).get("procMount", "Default") != "Default"]
    return _names(bad, "procMount not Default")


def seccomp_baseline(md: Obj, spec: Obj) -> str | None:
    bad = []
    if ((spec.get("securityContext") or {}).get("seccompProfile") or {}).get(
        "type"
    ) == "Unconfined":
        bad.append("pod")
    bad += [
        c["name"]
        for c in containers(spec)
        if (_sc(c).get("seccompProfile") or {}).get("type") == "Unconfined"
    ]
    return _names(bad, "seccompProfile Unconfined")


def sysctls(md: Obj, spec: Obj) -> str | None:
    bad = [
        s["name"]
        for s in (spec.get("securityContext") or {}).get("sysctls") or []
        if s["name"] not in _SAFE_SYSCTLS
    ]
    return _names(bad, "unsafe sysctls")


def host_probes_lifecycle(md: Obj, spec: Obj) -> str | None:
    bad = []
    for c in containers(spec):
        handlers = [c.get(p) or {} for p in ("livenessProbe", "readinessProbe", "startupProbe")]
        handlers += list((c.get("lifecycle") or {}).values())
        for h in handlers:
            for kind in ("httpGet", "tcpSocket"):
                if ((h or {}).get(kind) or {}).get("host"):
                    bad.append(c["name"])
    return _names(sorted(set(bad)), "probe/lifecycle host set")


def restricted_volumes(md: Obj, spec: Obj) -> str | None:
    bad = [
        f"{v['name']}({','.join(sorted(set(v) - _VOLUME_META))})"
        for v in spec.get("volumes") or []
        if not (set(v) - _VOLUME_META) & _RESTRICTED_VOLUMES
    ]
    return _names(bad, "restricted volume types")


def allow_privilege_escalation(md: Obj, spec: Obj) -> str | None:
    if _is_windows(spec):
        return None
    bad = [
        c["name"] for c in containers(spec) if _sc(c).get("allowPrivilegeEscalation") is not False
    ]
    return _names(bad, "allowPrivilegeEscalation != false")


def run_as_non_root(md: Obj, spec: Obj) -> str | None:
    pod = (spec.get("securityContext") or {}).get("runAsNonRoot")
    bad = []
    if pod is False:
        bad.append("pod")
    for c in containers(spec):
        v = _sc(c).get("runAsNonRoot")
        if v is False or (v is None and pod is not True):
            bad.append(c["name"])
    return _names(bad, "runAsNonRoot != true")


def run_as_user(md: Obj, spec: Obj) -> str | None:
    bad = ["pod"] if (spec.get("securityContext") or {}).get("runAsUser") == 0 else []
    bad += [c["name"] for c in containers(spec) if _sc(c).get("runAsUser") == 0]
    return _names(bad, "runAsUser=0")


def seccomp_restricted(md: Obj, spec: Obj) -> str | None:
    if _is_windows(spec):
        return None
    ok = ("RuntimeDefault", "Localhost")
    pod = ((spec.get("securityContext") or {}).get("seccompProfile") or {}).get("type")
    bad = ["pod"] if pod is not None and pod not in ok else []
    for c in containers(spec):
        t = (_sc(c).get("seccompProfile") or {}).get("type")
        if (t is None and pod not in ok) or (t is not None and t not in ok):
            bad.append(c["name"])
    return _names(bad, "seccompProfile.type not RuntimeDefault/Localhost")


def capabilities_restricted(md: Obj, spec: Obj) -> str | None:
    if _is_windows(spec):
        return None
    bad = []
    for c in containers(spec):
        caps = _sc(c).get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            bad.append(f"{c['name']} must drop ALL")
        bad += [f"{c['name']}+{a}" for a in caps.get("add") or [] if a != "NET_BIND_SERVICE"]
    return _names(bad, "capabilities")


Check = Callable[[Obj, Obj], "str | None"]

BASELINE: dict[str, Check] = {
    "hostProcess": host_process,
    "hostNamespaces": host_namespaces,
    "privileged": privileged,
    "capabilities_baseline": capabilities_baseline,
    "hostPathVolumes": host_path_volumes,
    "hostPorts": host_ports,
    "appArmorProfile": app_armor,
    "seLinuxOptions": selinux,
    "procMount": proc_mount,
    "seccompProfile_baseline": seccomp_baseline,
    "sysctls": sysctls,
    "hostProbesAndHostLifecycle": host_probes_lifecycle,
}
RESTRICTED: dict[str, Check] = {
    **{
        k: v
        for k, v in BASELINE.items()
        if k not in ("hostPathVolumes", "seccompProfile_baseline", "capabilities_baseline")
    },
    "restrictedVolumes": restricted_volumes,
    "allowPrivilegeEscalation": allow_privilege_escalation,
    "runAsNonRoot": run_as_non_root,
    "runAsUser": run_as_user,
    "seccompProfile_restricted": seccomp_restricted,
    "capabilities_restricted": capabilities_restricted,
}


def check_pod(pod: Obj, level: str) -> list[tuple[str, str]]:
    """(check id, violation) for every PSS control `pod` violates at `level`."""
    if level == "privileged":
        return []
    checks = {"baseline": BASELINE, "restricted": RESTRICTED}.get(level)
    if checks is None:
        raise ValueError(
            f"unknown Pod Security level {level!r}: privileged, baseline or restricted"
        )
    md, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    return [(cid, msg) for cid, fn in checks.items() if (msg := fn(md, spec)) is not None]


# Control names as the PSS doc titles them (Kyverno podSecurity exclude.controlName).
CONTROL_TITLES = {
    "hostProcess": "HostProcess",
    "hostNamespaces": "Host Namespaces",
    "privileged": "Privileged Containers",
    "capabilities_baseline": "Capabilities",
    "hostPathVolumes": "HostPath Volumes",
    "hostPorts": "Host Ports",
    "appArmorProfile": "AppArmor",
    "seLinuxOptions": "SELinux",
    "procMount": "/proc Mount Type",
    "seccompProfile_baseline": "Seccomp",
    "sysctls": "Sysctls",
    "hostProbesAndHostLifecycle": "Host Probes / Lifecycle Hooks",
    "restrictedVolumes": "Volume Types",
    "allowPrivilegeEscalation": "Privilege Escalation",
    "runAsNonRoot": "Running as Non-root",
    "runAsUser": "Running as Non-root user",
    "seccompProfile_restricted": "Seccomp",
    "capabilities_restricted": "Capabilities",
}

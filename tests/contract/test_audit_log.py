"""The API server's audit log leaves the control-plane nodes: where the rendered
KubeadmControlPlane tells kube-apiserver to write it (`--audit-log-path`), a DaemonSet that
runs on every control-plane node reads that very file through a read-only hostPath and
pushes it to Loki. Without it the log dies with each machine a rollout replaces.
"""

from __future__ import annotations

import re
from typing import Any

from tools import render
from tools.fullrender import FullRender, Rendered
from tools.offline import ROOT, Evaluation

DOCS = ROOT / "docs" / "observability.md"
TAINT = "node-role.kubernetes.io/control-plane"


def _api_server_args(full: FullRender) -> dict[str, str] | None:
    kcps = [o for o in full.objects if o.kind == "KubeadmControlPlane"]
    if not kcps:
        return None
    (kcp,) = kcps
    api = kcp.doc["spec"]["kubeadmConfigSpec"]["clusterConfiguration"]["apiServer"]
    return {a["name"]: a["value"] for a in api.get("extraArgs") or []}


def _runs_on_control_plane(pod: dict[str, Any]) -> bool:
    tolerated = any(
        t.get("key") == TAINT and t.get("effect") in (None, "NoSchedule")
        for t in pod.get("tolerations") or []
    )
    return tolerated and TAINT in (pod.get("nodeSelector") or {})


def _shippers(full: FullRender, path: str) -> list[tuple[Rendered, str]]:
    """DaemonSets on control-plane nodes mounting the log's directory read-only, with the
    config (from their ConfigMap) that tails it."""
    directory = path.rsplit("/", 1)[0]
    configs = {
        (c.namespace, c.name): "\n".join(str(v) for v in (c.doc.get("data") or {}).values())
        for c in full.of_kind("ConfigMap")
    }
    out = []
    for ds in full.of_kind("DaemonSet"):
        pod = ds.doc["spec"]["template"]["spec"]
        host = {
            v["name"]: v["hostPath"]["path"] for v in pod.get("volumes") or [] if "hostPath" in v
        }
        cms = [v["configMap"]["name"] for v in pod.get("volumes") or [] if "configMap" in v]
        mounts = [m for c in pod["containers"] for m in c.get("volumeMounts") or []]
        reads = any(
            host.get(m["name"]) == directory and m.get("readOnly") and m["mountPath"] == directory
            for m in mounts
        )
        if reads and _runs_on_control_plane(pod):
            text = "\n".join(configs.get((ds.namespace, n), "") for n in cms)
            out.append((ds, text))
    return out


def test_prod_ships_the_audit_log_the_api_server_writes(full_prod: FullRender) -> None:
    args = _api_server_args(full_prod)
    assert args is not None and args.get("audit-log-path"), "prod writes no audit log"
    path = args["audit-log-path"]
    shippers = _shippers(full_prod, path)
    assert shippers, f"nothing on the control-plane nodes reads {path}"
    for ds, config in shippers:
        assert f'"__path__" = "{path}"' in config, f"{ds.ref} does not tail {path}"
        push = re.search(r'url\s*=\s*"([^"]+)"', config)
        assert push and push.group(1).startswith("http://loki-gateway.logging.svc"), ds.ref
        container = ds.doc["spec"]["template"]["spec"]["containers"][0]
        ctx = container.get("securityContext") or {}
        assert ctx.get("capabilities", {}).get("drop") == ["ALL"], ds.ref
        assert ctx.get("readOnlyRootFilesystem") is True and not ctx.get("privileged"), ds.ref


def test_a_cluster_we_do_not_build_gets_no_audit_shipper(full_dev: FullRender) -> None:
    # kind's API server writes no audit log unless the cluster was made to (docs).
    assert _api_server_args(full_dev) is None
    assert not [ds for ds in full_dev.of_kind("DaemonSet") if ds.source == "alloy-audit"]


def test_the_docs_state_the_audit_logs_retention(full_prod: FullRender) -> None:
    args = _api_server_args(full_prod)
    assert args is not None
    text = DOCS.read_text()
    section = text[text.index("## API server audit log") :]
    assert f"{args['audit-log-maxage']} days" in section
    assert f"{args['audit-log-maxbackup']} files of {args['audit-log-maxsize']} MB" in section
    assert "observability.loki.retention" in section


def test_the_footprint_counts_the_audit_shipper_beside_the_log_shipper(prod: Evaluation) -> None:
    # Two releases of the alloy chart: each is its own line, whatever order they render in.
    by = prod.outputs["footprint"]["byWorkload"]
    assert by["alloy-audit:alloy"]["daemonset"] and by["alloy:alloy"]["daemonset"], sorted(by)
    assert prod.outputs["footprint"] == render.stack_footprint(prod)

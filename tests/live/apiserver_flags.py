"""The API server flags of the fixture: kubeadm's control-plane flags plus every extra
argument and file the KubeadmControlPlane gives its API servers, with node paths moved
under the fixture's directory."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

from components.control_plane import capi_objects as capi


def kcp_api_server(root: Path) -> list[str]:
    """`--name=value` for each KCP apiServer extraArg; the files it names written below root."""
    spec = capi.kubeadm_control_plane_spec(
        replicas=3,
        version="v0.0.0",
        infra_kind="AWSMachineTemplate",
        template_name="live",
        encryption_secret="live-encryption-config",
        external_cloud=True,
    )
    kubeadm: dict[str, Any] = spec["kubeadmConfigSpec"]
    contents = {f["path"]: f.get("content") for f in kubeadm["files"]}
    # The KCP pulls the encryption config from a Secret the program fills with a random key.
    contents[capi.ENC_FILE] = capi.encryption_config(base64.b64encode(os.urandom(32)).decode())
    flags = []
    for arg in kubeadm["clusterConfiguration"]["apiServer"]["extraArgs"]:
        value = arg["value"]
        if value.startswith("/"):
            moved = root / value.lstrip("/")
            moved.parent.mkdir(parents=True, exist_ok=True)
            if contents.get(value) is not None:
                moved.write_text(contents[value])
            value = str(moved)
        flags.append(f"--{arg['name']}={value}")
    return flags

"""The API server's authenticator for people and CI, delivered by the KubeadmControlPlane.

`--authentication-config` takes a structured AuthenticationConfiguration (GA in 1.34 as
apiserver.config.k8s.io/v1; v1beta1 since 1.30, the newest 1.33 reads; kubernetes.io
"Authenticating", "Using Authentication Configuration"). The version follows the
cluster's minor, so 1.33 gets v1beta1 and 1.34 and later get v1. The flag excludes the
legacy `--oidc-*` flags, which the program never sets. The API server re-reads the file
when it changes; changing it here still rolls the control plane, as any KCP file does.
"""

from __future__ import annotations

from typing import Any

import yaml

from components.control_plane.auth_settings import AuthenticationSettings

AUTHN_DIR = "/etc/kubernetes/authn"
AUTHN_FILE = f"{AUTHN_DIR}/authentication-config.yaml"
V1_SINCE = (1, 34)


def api_version(kubernetes_version: str) -> str:
    major, minor = (int(p) for p in kubernetes_version.lstrip("v").split(".")[:2])
    return "apiserver.config.k8s.io/" + ("v1" if (major, minor) >= V1_SINCE else "v1beta1")


def authentication_config(a: AuthenticationSettings, kubernetes_version: str) -> str:
    issuer: dict[str, Any] = {"url": a.issuer, "audiences": list(a.audiences)}
    if len(a.audiences) > 1:
        issuer["audienceMatchPolicy"] = "MatchAny"
    doc = {
        "apiVersion": api_version(kubernetes_version),
        "kind": "AuthenticationConfiguration",
        "jwt": [
            {
                "issuer": issuer,
                "claimMappings": {
                    "username": {"claim": a.username_claim, "prefix": a.prefix},
                    "groups": {"claim": a.groups_claim, "prefix": a.prefix},
                },
            }
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False)


def with_authentication(
    spec: dict[str, Any], a: AuthenticationSettings | None, kubernetes_version: str
) -> dict[str, Any]:
    """A KubeadmControlPlane spec with the file, the flag and a read-only mount added."""
    if a is None:
        return spec
    config = spec["kubeadmConfigSpec"]
    config["files"] = [
        *config["files"],
        {
            "path": AUTHN_FILE,
            "owner": "root:root",
            "permissions": "0644",
            "content": authentication_config(a, kubernetes_version),
        },
    ]
    api = config["clusterConfiguration"]["apiServer"]
    api["extraArgs"] = [*api["extraArgs"], {"name": "authentication-config", "value": AUTHN_FILE}]
    api["extraVolumes"] = [
        *api["extraVolumes"],
        {
            "name": "authentication-config",
            "hostPath": AUTHN_DIR,
            "mountPath": AUTHN_DIR,
            "readOnly": True,
            "pathType": "DirectoryOrCreate",
        },
    ]
    return spec

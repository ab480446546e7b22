"""Credentials the stack publishes for the workload cluster.

- `kubeconfig`: for people and other projects. No credential inside: its user runs
  kubelogin (`kubectl oidc-login get-token`, int128/kubelogin README) as a client-go exec
  plugin against the issuer of `cluster.authentication`, so each caller is who the IdP
  says, in the `oidc:` groups the RBAC bindings name. CI uses the same issuer (a
  client-credentials or workload-identity token) or a scoped ServiceAccount token.
- `breakGlassKubeconfig`: Cluster API's admin client certificate (`system:masters`:
  bypasses RBAC, cannot be revoked before it expires). A secret output for when the IdP
  is down (docs/security.md, "Break-glass access").
"""

from __future__ import annotations

import yaml

from components.control_plane.auth_settings import AuthenticationSettings

USER = "oidc"
EXEC_API = "client.authentication.k8s.io/v1"


def oidc_kubeconfig(admin: str, cluster: str, a: AuthenticationSettings) -> str:
    """The admin kubeconfig's server and CA, with an OIDC exec user instead of its key."""
    doc = yaml.safe_load(admin) or {}
    current = doc.get("current-context")
    contexts = {c["name"]: c["context"] for c in doc.get("contexts") or []}
    wanted = (contexts.get(current) or {}).get("cluster")
    entries = (
        [c for c in doc.get("clusters") or [] if c["name"] == wanted] or doc.get("clusters") or [{}]
    )
    server = dict(entries[0].get("cluster") or {})
    args = [
        "oidc-login",
        "get-token",
        f"--oidc-issuer-url={a.issuer}",
        f"--oidc-client-id={a.client_id}",
    ]
    if a.username_claim == "email":
        args.append("--oidc-extra-scope=email")
    out = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": server}],
        "users": [
            {
                "name": USER,
                "user": {
                    "exec": {
                        "apiVersion": EXEC_API,
                        "command": "kubectl",
                        "args": args,
                        "interactiveMode": "IfAvailable",
                        "provideClusterInfo": False,
                    }
                },
            }
        ],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": USER}}],
        "current-context": cluster,
    }
    return yaml.safe_dump(out, sort_keys=False)

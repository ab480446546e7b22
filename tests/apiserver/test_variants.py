"""Settings no stack file uses, evaluated under mocks and their custom resources sent to the
same stack's API server: a CR the variant adds or changes meets its CRD's openAPI schema too."""

from __future__ import annotations

from typing import Any

import pytest

from tests.apiserver.render import StackRender, crds_needed, ref
from tests.apiserver.server import Judged, established, send
from tests.contract.test_edge_validation import manifest
from tools.offline import CRDS_DIR, DELETE, evaluate
from tools.render import is_builtin

pytestmark = pytest.mark.usefixtures("fixture_kubeconfig")

# (settings, kinds the variant must produce)
VARIANTS: dict[str, tuple[dict[str, Any], set[str]]] = {
    "dev": (
        {"edge.exposePrometheus": True, "edge.exposeAlertmanager": True},
        {"SecurityPolicy", "ReferenceGrant", "HTTPRoute"},
    ),
    "staging": (
        {"cluster.capi.infrastructure": "docker", "cluster.capi.aws": DELETE},
        {"DevCluster", "DevMachineTemplate", "KubeadmControlPlane"},
    ),
    "prod": (
        {"edge.exposePrometheus": True, "edge.exposeAlertmanager": True},
        {"SecurityPolicy", "ReferenceGrant", "HTTPRoute"},
    ),
}


def test_a_variants_custom_resources_are_accepted(judged: Judged) -> None:
    overrides, kinds = VARIANTS[judged.stack]
    ev = evaluate(judged.stack, overrides)
    crs = [manifest(r, redact=False) for r in ev.k8s_objects() if not is_builtin(r)]
    assert kinds <= {d["kind"] for d in crs}, sorted({d["kind"] for d in crs})
    served = {(str(d["apiVersion"]).rpartition("/")[0], d["kind"]) for d in crs}
    own = [
        c
        for c in judged.render.of_kind("CustomResourceDefinition")
        if (c["spec"]["group"], c["spec"]["names"]["kind"]) in served
    ]
    reference = crds_needed(StackRender(judged.stack, (*judged.render.objects, *crs)), CRDS_DIR)
    new = [c for c in own + reference if c["metadata"]["name"] not in judged.crds]
    assert not send(judged, new, dry_run=False)
    established(judged)
    refused = send(judged, crs, dry_run=True)
    assert not refused, "\n".join(map(str, refused)) + f"\n(of {[ref(c) for c in crs]})"

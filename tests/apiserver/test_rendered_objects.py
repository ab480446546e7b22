"""Every object each stack renders, ours and every chart's, is accepted by a real API server:
built-in kinds against the server's own schemas (strict field validation: an unknown field is
a refusal), custom resources against their CRDs' openAPI schemas (the charts' own CRDs and the
reference CRDs), and all of them through the admission chain the stack installs, our
ValidatingAdmissionPolicies and the Kyverno ValidatingPolicies among it."""

from __future__ import annotations

from tests.apiserver.server import REAL, Judged


def test_the_api_server_accepts_every_rendered_object(judged: Judged) -> None:
    refused = "\n".join(map(str, judged.refused))
    assert not judged.refused, f"{judged.stack}: {len(judged.refused)} refused:\n{refused}"


def test_the_walk_sends_every_object_and_installs_every_policy(judged: Judged) -> None:
    render = judged.render
    assert judged.applied >= len(render.objects) > 500, (judged.applied, len(render.objects))
    kinds = {o["kind"] for o in render.objects} - set(REAL)
    assert {
        "Deployment",
        "DaemonSet",
        "Certificate",
        "CiliumNetworkPolicy",
        "ClusterPolicy",
        "ValidatingPolicy",
        "ServiceMonitor",
        "HTTPRoute",
    } <= kinds, sorted(kinds)
    assert len(render.of_kind("ValidatingAdmissionPolicy")) >= 3
    assert len(render.of_kind("ValidatingPolicy")) >= 10, "the kyverno-policies set"

"""A stack's render as the API server tier sends it: every object of build/rendered/<stack>
(the program's and every chart's; Helm hooks left out, Chart v4 never applies them), the
CRDs the custom resources need, and the Pods the workload controllers would create."""

from __future__ import annotations

import base64
import copy
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.live.engines import ROOT
from tools.admission.request import TEMPLATE_PATHS, pod_from_controller
from tools.helm_render import CrdLoader

Obj = dict[str, Any]
REDACTED = "<redacted>"  # tools/render.py writes secret values so
# Kyverno's webhooks never see these namespaces (kyverno chart defaults: the webhook
# namespaceSelector excludes kube-system and Kyverno's own namespace; config.resourceFilters
# skip kube-public and kube-node-lease).
KYVERNO_SKIPPED = ("kube-system", "kube-public", "kube-node-lease")
# The ValidatingPolicy fields a ValidatingAdmissionPolicy has too, and those only Kyverno reads.
VAP_FIELDS = (
    "failurePolicy",
    "matchConstraints",
    "matchConditions",
    "variables",
    "validations",
    "auditAnnotations",
)
KYVERNO_ONLY = ("validationActions", "evaluation", "webhookConfiguration", "autogen")


def ref(obj: Obj) -> str:
    md = obj.get("metadata") or {}
    ns = f"{md['namespace']}/" if md.get("namespace") else ""
    return f"{obj.get('kind')} {ns}{md.get('name')}"


@dataclass(frozen=True)
class StackRender:
    stack: str
    objects: tuple[Obj, ...]

    def of_kind(self, *kinds: str) -> list[Obj]:
        return [o for o in self.objects if o["kind"] in kinds]

    def names(self, kind: str) -> set[str]:
        return {o["metadata"]["name"] for o in self.of_kind(kind)}

    def tenant_namespaces(self) -> list[str]:
        return sorted(
            o["metadata"]["name"]
            for o in self.of_kind("Namespace")
            if "k8s-platform/tenant" in (o["metadata"].get("labels") or {})
        )

    def kyverno_namespace(self) -> str:
        return next(
            o["metadata"]["namespace"]
            for o in self.of_kind("Deployment")
            if o["metadata"]["name"] == "kyverno-admission-controller"
        )

    def controllers(self) -> list[Obj]:
        return [o for o in self.objects if o["kind"] in TEMPLATE_PATHS]


def _docs(path: Path) -> list[Obj]:
    # libyaml, and the `=` scalars CRD schemas hold read as strings
    return [d for d in yaml.load_all(path.read_text(), Loader=CrdLoader) if d and d.get("kind")]


def load(stack: str) -> StackRender:
    folder = ROOT / "build" / "rendered" / stack
    files = [*folder.glob("k8s/*.yaml"), *folder.glob("crs/*.yaml")]
    files += [
        *folder.glob("chart-objects/*/k8s/*.yaml"),
        *folder.glob("chart-objects/*/crs/*.yaml"),
    ]
    objects = [_unredacted(d) for f in sorted(files) for d in _docs(f)]
    if len(objects) < 100:
        raise AssertionError(f"{len(objects)} objects in {folder}: run `make render` first")
    return StackRender(stack, tuple(objects))


def _unredacted(doc: Obj) -> Obj:
    """A Secret's redacted `data` is not base64: any valid value stands in for it."""
    if doc["kind"] == "Secret" and doc.get("data"):
        doc = copy.deepcopy(doc)
        filler = base64.b64encode(b"redacted").decode()
        doc["data"] = {k: filler if v == REDACTED else v for k, v in doc["data"].items()}
    return doc


def crds_needed(render: StackRender, crds_dir: Path) -> list[Obj]:
    """The reference CRDs (CRDS_DIR) of every custom resource kind the render does not bring
    its own CRD for (Cilium's, Cluster API's, ...)."""
    own = {o["metadata"]["name"] for o in render.of_kind("CustomResourceDefinition")}
    served = {
        (o["spec"]["group"], o["spec"]["names"]["kind"])
        for o in render.of_kind("CustomResourceDefinition")
    }
    reference = {k: d for k, d in _reference(crds_dir).items() if d["metadata"]["name"] not in own}
    wanted = {(str(o["apiVersion"]).rpartition("/")[0], o["kind"]) for o in render.objects}
    return [reference[k] for k in sorted(wanted - served) if k in reference]


@functools.cache
def _reference(crds_dir: Path) -> dict[tuple[str, str], Obj]:
    found = [d for f in sorted(crds_dir.glob("*.yaml")) for d in _docs(f)]
    return {
        (d["spec"]["group"], d["spec"]["names"]["kind"]): d
        for d in found
        if d["kind"] == "CustomResourceDefinition"
    }


def kyverno_policies_as_vaps(render: StackRender) -> list[Obj]:
    """Each Kyverno ValidatingPolicy as the ValidatingAdmissionPolicy and binding Kyverno itself
    can generate from it (kyverno.io/docs/policy-types/validating-policy: "Auto-generation:
    Pod Controllers, ValidatingAdmissionPolicy"): the same CEL, judged by the API server, over
    Kyverno's webhook scope. Audit becomes Deny: dev must pass what prod enforces."""
    kyverno_ns = render.kyverno_namespace()
    out: list[Obj] = []
    for vp in render.of_kind("ValidatingPolicy"):
        spec = vp["spec"]
        unknown = set(spec) - set(VAP_FIELDS) - set(KYVERNO_ONLY)
        assert not unknown, f"{ref(vp)}: no ValidatingAdmissionPolicy field for {sorted(unknown)}"
        name = f"kyverno-{vp['metadata']['name']}"
        policy = {k: spec[k] for k in VAP_FIELDS if k in spec}
        skipped = [*KYVERNO_SKIPPED, kyverno_ns]
        out += [
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingAdmissionPolicy",
                "metadata": {"name": name},
                "spec": policy,
            },
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingAdmissionPolicyBinding",
                "metadata": {"name": name},
                "spec": {
                    "policyName": name,
                    "validationActions": ["Deny"],
                    "matchResources": {
                        "namespaceSelector": {
                            "matchExpressions": [
                                {
                                    "key": "kubernetes.io/metadata.name",
                                    "operator": "NotIn",
                                    "values": skipped,
                                }
                            ]
                        }
                    },
                },
            },
        ]
    return out


def pods(render: StackRender) -> list[tuple[Obj, Obj]]:
    """(controller, the Pod it would create) for every workload controller of the render."""
    out = []
    for c in render.controllers():
        pod = pod_from_controller(c)
        assert pod is not None, ref(c)
        # The StatefulSet controller gives each Pod a volume per claim template (its PVC).
        claims = c["spec"].get("volumeClaimTemplates") or [] if c["kind"] == "StatefulSet" else []
        volumes = [
            {
                "name": t["metadata"]["name"],
                "persistentVolumeClaim": {
                    "claimName": f"{t['metadata']['name']}-{c['metadata']['name']}-0"
                },
            }
            for t in claims
        ]
        pod["spec"]["volumes"] = [*(pod["spec"].get("volumes") or []), *volumes]
        out.append((c, pod))
    return out

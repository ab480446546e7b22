"""cert-manager's ClusterIssuers: the internal CA every profile has (webhook certificates,
service names ACME cannot validate) and, for public names, ACME when configured."""

from __future__ import annotations

import pulumi

from components.security.settings import ACME, TlsSettings
from components.security.values import acme_spec
from kernel import kube
from kernel.namespaces import CERT_MANAGER


def internal_issuer(opts: pulumi.ResourceOptions) -> pulumi.Output[str]:
    """A CA issuer for in-cluster TLS. `opts` waits for the cert-manager Chart.

    The standard bootstrap: a self-signed issuer signs one CA certificate, and a CA
    issuer signs everything else with it (one root to trust, not one per cert).
    """
    bootstrap = kube.custom_resource(
        "cert-manager.io/v1",
        "ClusterIssuer",
        "selfsigned-bootstrap",
        None,
        {"selfSigned": {}},
        opts,
    )
    ca = kube.custom_resource(
        "cert-manager.io/v1",
        "Certificate",
        "platform-ca",
        CERT_MANAGER,
        {
            "isCA": True,
            "commonName": "k8s-platform internal CA",
            "secretName": "platform-ca",
            "duration": "87600h",
            "privateKey": {"algorithm": "ECDSA", "size": 256},
            "issuerRef": {
                "name": "selfsigned-bootstrap",
                "kind": "ClusterIssuer",
                "group": "cert-manager.io",
            },
        },
        _also_after(opts, bootstrap),
    )
    issuer = kube.custom_resource(
        "cert-manager.io/v1",
        "ClusterIssuer",
        "platform-ca",
        None,
        {"ca": {"secretName": "platform-ca"}},
        _also_after(opts, ca),
    )
    return _name_of(issuer, "platform-ca")


def cluster_issuer(
    tls: TlsSettings, opts: pulumi.ResourceOptions, internal: pulumi.Output[str]
) -> pulumi.Output[str]:
    """The issuer for public names: ACME when configured, else the internal CA."""
    if tls.issuer == ACME and tls.acme is not None:
        issuer = kube.custom_resource(
            "cert-manager.io/v1",
            "ClusterIssuer",
            "letsencrypt",
            None,
            {"acme": acme_spec(tls.acme)},
            opts,
        )
        return _name_of(issuer, "letsencrypt")
    return internal


def _also_after(opts: pulumi.ResourceOptions, dep: pulumi.Resource) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[dep]))


def _name_of(r: pulumi.CustomResource, name: str) -> pulumi.Output[str]:
    """`name`, known once `r` exists: consumers of the output wait for the object."""
    return r.id.apply(lambda _: name)

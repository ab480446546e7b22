"""A throwaway etcd PKI with kubeadm's file names (/etc/kubernetes/pki/etcd/*)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# kubeadm's layout of /etc/kubernetes/pki/etcd on a control-plane node.
KUBEADM_ETCD_FILES = (
    "ca.crt",
    "ca.key",
    "server.crt",
    "server.key",
    "peer.crt",
    "peer.key",
    "healthcheck-client.crt",
    "healthcheck-client.key",
)


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _issue(
    cn: str, issuer: Issued | None, *, ca: bool = False, server: bool = False, client: bool = False
) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer.cert.subject if issuer else _name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
        builder = builder.add_extension(usage, critical=True)
    else:
        usages = [ExtendedKeyUsageOID.SERVER_AUTH] if server else []
        usages += [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if server:
        san = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    signer = issuer.key if issuer else key
    return Issued(builder.sign(signer, hashes.SHA256()), key)


def _write(directory: Path, stem: str, issued: Issued) -> None:
    (directory / f"{stem}.crt").write_bytes(issued.cert.public_bytes(serialization.Encoding.PEM))
    key = directory / f"{stem}.key"
    key.write_bytes(
        issued.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key.chmod(0o600)


def kubeadm_etcd_pki(directory: Path, *, ca_name: str = "etcd-ca") -> Path:
    """Writes every file kubeadm puts in /etc/kubernetes/pki/etcd; returns `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = _issue(ca_name, None, ca=True)
    _write(directory, "ca", ca)
    _write(directory, "server", _issue("etcd-server", ca, server=True, client=True))
    _write(directory, "peer", _issue("etcd-peer", ca, server=True, client=True))
    _write(directory, "healthcheck-client", _issue("kube-etcd-healthcheck-client", ca, client=True))
    assert sorted(p.name for p in directory.iterdir()) == sorted(KUBEADM_ETCD_FILES)
    return directory

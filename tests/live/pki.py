"""The fixture's PKI: a cluster CA, the API server's serving certificate, an admin client
certificate and the service-account key pair, in kubeadm's file names."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Key = ec.EllipticCurvePrivateKey


def _pem_key(key: Key | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert(
    subject: x509.Name, key: Key, issuer: tuple[x509.Certificate, Key] | None, **kind: bool
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=kind.get("ca", False), path_length=None), True)
    )
    if kind.get("ca"):
        usage = x509.KeyUsage(True, False, True, False, False, True, True, False, False)
        b = b.add_extension(usage, critical=True)
    else:
        eku = [ExtendedKeyUsageOID.SERVER_AUTH] if kind.get("server") else []
        eku += [ExtendedKeyUsageOID.CLIENT_AUTH] if kind.get("client") else []
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if kind.get("server"):
        names: list[x509.GeneralName] = [
            x509.DNSName("localhost"),
            x509.DNSName("kubernetes.default.svc"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("10.96.0.1")),
        ]
        b = b.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return b.sign(issuer[1] if issuer else key, hashes.SHA256())


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def write_pki(directory: Path) -> Path:
    """ca.crt/key, apiserver.crt/key, admin.crt/key (system:masters), sa.key/pub."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert(_name("kubernetes"), ca_key, None, ca=True)
    issued = {"ca": (ca, ca_key)}
    for stem, subject, kind in (
        ("apiserver", _name("kube-apiserver"), {"server": True}),
        ("admin", _name("kubernetes-admin", "system:masters"), {"client": True}),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        issued[stem] = (_cert(subject, key, (ca, ca_key), **kind), key)
    for stem, (cert, key) in issued.items():
        (directory / f"{stem}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (directory / f"{stem}.key").write_bytes(_pem_key(key))
    sa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (directory / "sa.key").write_bytes(_pem_key(sa))
    (directory / "sa.pub").write_bytes(
        sa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return directory

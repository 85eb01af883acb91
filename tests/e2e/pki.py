"""A throwaway certificate authority for the end-to-end tests' TLS endpoints.

The stand-in vendor API and the egress test hosts serve TLS under the names the stack allows
(api.anthropic.com, pypi.org, ...) on the test's own Docker network; only clients given this
CA trust them. The CA lives in the test cache so image tags (which embed it) stay stable.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Pki:
    ca_pem: str
    cert_pem: str
    key_pem: str


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def load_or_create(directory: Path, names: list[str]) -> Pki:
    """The CA and one server certificate for `names`, created once per cache directory."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {kind: directory / f"{kind}.pem" for kind in ("ca", "cert", "key")}
    marker = directory / "names.txt"
    if (
        all(p.is_file() for p in files.values())
        and marker.is_file()
        and marker.read_text() == ",".join(names)
    ):
        return Pki(*(files[k].read_text() for k in ("ca", "cert", "key")))
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Stockade e2e test CA"))
        .issuer_name(_name("Stockade e2e test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pki = Pki(
        ca.public_bytes(serialization.Encoding.PEM).decode(),
        cert.public_bytes(serialization.Encoding.PEM).decode(),
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
    )
    files["ca"].write_text(pki.ca_pem)
    files["cert"].write_text(pki.cert_pem)
    files["key"].write_text(pki.key_pem)
    files["key"].chmod(0o644)  # read by the test containers' non-root user through a bind mount
    marker.write_text(",".join(names))
    return pki

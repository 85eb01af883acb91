"""The contract's certificate requirements (docs/vendor-interface.md §2.3), checked on PEM text.

Used three ways: settings validation refuses a provided server certificate that
Anthropic would reject, tests check what `TunnelCertificates` generates, and the
rotation runbook's `python -m stockade.tunnel.certificate_rules` call checks a
pair before it is registered. Only the cryptography library is needed, so this
module never pulls in Pulumi.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

CA_PEM_MAX_BYTES = 8 * 1024
_STRONG_HASHES = (hashes.SHA256, hashes.SHA384, hashes.SHA512)


def load_certificates(pem: str) -> list[x509.Certificate]:
    """Every certificate in a PEM text; ValueError when there is none or the text is not PEM."""
    try:
        certificates = x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        raise ValueError("not a PEM certificate (expected -----BEGIN CERTIFICATE-----)") from None
    return certificates


def hostname_covered(certificate: x509.Certificate, hostname: str) -> bool:
    """True when a DNS SAN names `hostname` exactly or by a one-label wildcard."""
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    host = hostname.lower().rstrip(".")
    for name in names.get_values_for_type(x509.DNSName):
        pattern = name.lower().rstrip(".")
        if pattern == host:
            return True
        if pattern.startswith("*.") and "." in host and host.split(".", 1)[1] == pattern[2:]:
            return True
    return False


def _key_problem(certificate: x509.Certificate) -> str | None:
    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return None if key.key_size >= 2048 else f"its RSA key has {key.key_size} bits; 2048 or more needed"
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.key_size >= 256:
            return None
        return f"its ECDSA curve {key.curve.name} is weaker than P-256"
    return f"its key type {type(key).__name__} is neither RSA nor ECDSA"


def _hash_problem(certificate: x509.Certificate) -> str | None:
    algorithm = certificate.signature_hash_algorithm
    if isinstance(algorithm, _STRONG_HASHES):
        return None
    name = algorithm.name if algorithm is not None else "none"
    return f"it is signed with {name}; SHA-256 or stronger is needed"


def ca_problems(pem: str) -> list[str]:
    """What stops Anthropic from registering this CA certificate, in plain words."""
    if len(pem.encode()) > CA_PEM_MAX_BYTES:
        return [f"the CA PEM is {len(pem.encode())} bytes; at most {CA_PEM_MAX_BYTES} are accepted"]
    certificates = load_certificates(pem)
    if len(certificates) != 1:
        return [f"the CA PEM holds {len(certificates)} certificates; exactly one is accepted"]
    ca = certificates[0]
    problems = [p for p in (_key_problem(ca), _hash_problem(ca)) if p]
    try:
        constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
        if not (constraints.value.ca and constraints.critical):
            problems.append("BasicConstraints must be critical with CA:TRUE")
    except x509.ExtensionNotFound:
        problems.append("BasicConstraints CA:TRUE (critical) is missing")
    try:
        ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound:
        problems.append("the SubjectKeyIdentifier extension is missing")
    try:
        if not ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign:
            problems.append("KeyUsage lacks keyCertSign")
    except x509.ExtensionNotFound:
        problems.append("KeyUsage with keyCertSign is missing")
    return problems


def _verify_signed_by(server: x509.Certificate, ca: x509.Certificate) -> bool:
    key = ca.public_key()
    algorithm = server.signature_hash_algorithm
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            key.verify(server.signature, server.tbs_certificate_bytes, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(server.signature, server.tbs_certificate_bytes, ec.ECDSA(algorithm))
        else:
            return False
    except InvalidSignature:
        return False
    return server.issuer == ca.subject


def server_problems(pem: str, *, hostnames: Sequence[str], ca_pem: str | None = None) -> list[str]:
    """What makes Anthropic refuse this server certificate for these route hostnames."""
    certificates = load_certificates(pem)
    server = certificates[0]
    problems = [p for p in (_key_problem(server), _hash_problem(server)) if p]
    uncovered = [h for h in hostnames if not hostname_covered(server, h)]
    if uncovered:
        problems.append("its SANs do not cover " + ", ".join(sorted(uncovered)))
    try:
        usages = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.SERVER_AUTH not in usages:
            problems.append("it has an ExtendedKeyUsage without serverAuth")
    except x509.ExtensionNotFound:
        pass  # no EKU at all is accepted
    try:
        if server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            problems.append("it is a CA certificate, not a server certificate")
    except x509.ExtensionNotFound:
        pass
    if ca_pem is not None:
        ca = load_certificates(ca_pem)[0]
        if not _verify_signed_by(server, ca):
            problems.append("it is not signed directly by the CA")
        try:
            aki = server.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
            ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
            if aki != ski:
                problems.append("its AuthorityKeyIdentifier does not match the CA's SubjectKeyIdentifier")
        except x509.ExtensionNotFound:
            problems.append("its AuthorityKeyIdentifier (or the CA's SubjectKeyIdentifier) is missing")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m stockade.tunnel.certificate_rules CA.pem SERVER.pem HOSTNAME...`"""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3:
        print("usage: python -m stockade.tunnel.certificate_rules CA.pem SERVER.pem HOSTNAME...")
        return 2
    ca_pem = Path(args[0]).read_text(encoding="utf-8")
    server_pem = Path(args[1]).read_text(encoding="utf-8")
    problems = [f"CA: {p}" for p in ca_problems(ca_pem)]
    problems += [f"server: {p}" for p in server_problems(server_pem, hostnames=args[2:], ca_pem=ca_pem)]
    for problem in problems:
        print(problem)
    if not problems:
        print("ok: the pair meets the tunnel contract's certificate rules")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())

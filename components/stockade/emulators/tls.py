"""Offline emulation of the pulumi-tls resources Stockade uses.

pulumi-tls runs as a provider plugin, which the offline engine does not have.
These emulators stand in for it under the mock runtime so that synth, tests and
policy see real PEMs built from exactly the inputs Stockade passes. They follow
the documented semantics of the provider (terraform-provider-tls, which
pulumi-tls bridges, building certificates with Go's crypto/x509):

* `allowed_uses` maps onto KeyUsage (critical) and ExtendedKeyUsage, unknown
  values are refused;
* `is_ca_certificate` gives a critical BasicConstraints CA:TRUE and always a
  SubjectKeyIdentifier, and needs a subject with at least one name;
* `set_subject_key_id` adds the SKI (SHA-1 of the public key, as Go computes it);
* a locally signed certificate carries the issuing CA's SKI as its AKI (Go
  copies it whenever issuer and subject differ), and its subject and SANs come
  from the certificate request;
* `set_authority_key_id` on a self-signed certificate repeats its own SKI;
* `validity_period_hours` sets notAfter from notBefore.

It is NOT pulumi-tls. What differs, on purpose, so that synth stays
byte-identical run to run: keys are derived from a hash of the stack and the
resource name instead of a random source, serials are derived the same way, and
notBefore is the fixed `OFFLINE_NOT_BEFORE` rather than the time of `pulumi up`.
ECDSA signatures use RFC 6979 deterministic nonces. `ready_for_renewal` is
always false, because offline there is no clock to renew against.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import math
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from stockade.emulators import Emulator
from stockade.emulators.rsa_cache import cached_primes
from stockade.emulators.tls_outputs import CERT_REQUEST, LOCALLY_SIGNED_CERT, PRIVATE_KEY, SELF_SIGNED_CERT
from stockade.engine.context import OfflineContext
from stockade.engine.redact import SECRET_SIG, SECRET_SIG_KEY

EMULATORS: dict[str, Emulator] = {}
"""Type token -> emulator; stockade.emulators.tls_outputs calls them, through its disk cache."""


def _emulates(type_token: str) -> Callable[[Emulator], Emulator]:
    def decorator(fn: Emulator) -> Emulator:
        EMULATORS[type_token] = fn
        return fn

    return decorator


OFFLINE_NOT_BEFORE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
"""Every emulated certificate starts here, so the same inputs give the same PEM."""

PrivateKeyTypes = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKeyTypes = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey

_CURVES: dict[str, ec.EllipticCurve] = {
    "P224": ec.SECP224R1(),
    "P256": ec.SECP256R1(),
    "P384": ec.SECP384R1(),
    "P521": ec.SECP521R1(),
}
# Go's x509 picks the signature hash from the issuer key: SHA-256 for RSA and the
# smaller curves, SHA-384 for P-384, SHA-512 for P-521; Ed25519 signs without one.
_CURVE_HASH: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "secp224r1": hashes.SHA256,
    "secp256r1": hashes.SHA256,
    "secp384r1": hashes.SHA384,
    "secp521r1": hashes.SHA512,
}
_KEY_USAGES = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "cert_signing",
    "crl_signing",
    "encipher_only",
    "decipher_only",
)
_EXTENDED_KEY_USAGES: dict[str, ObjectIdentifier] = {
    "any_extended": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    "server_auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client_auth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "code_signing": ExtendedKeyUsageOID.CODE_SIGNING,
    "email_protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "ipsec_end_system": ObjectIdentifier("1.3.6.1.5.5.7.3.5"),
    "ipsec_tunnel": ObjectIdentifier("1.3.6.1.5.5.7.3.6"),
    "ipsec_user": ObjectIdentifier("1.3.6.1.5.5.7.3.7"),
    "timestamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "ocsp_signing": ExtendedKeyUsageOID.OCSP_SIGNING,
    "microsoft_server_gated_crypto": ObjectIdentifier("1.3.6.1.4.1.311.10.3.3"),
    "netscape_server_gated_crypto": ObjectIdentifier("2.16.840.1.113730.4.1"),
    "microsoft_commercial_code_signing": ObjectIdentifier("1.3.6.1.4.1.311.2.1.22"),
    "microsoft_kernel_code_signing": ObjectIdentifier("1.3.6.1.4.1.311.61.1.1"),
}
_SUBJECT_FIELDS: tuple[tuple[str, ObjectIdentifier], ...] = (
    ("country", NameOID.COUNTRY_NAME),
    ("province", NameOID.STATE_OR_PROVINCE_NAME),
    ("locality", NameOID.LOCALITY_NAME),
    ("postalCode", NameOID.POSTAL_CODE),
    ("organization", NameOID.ORGANIZATION_NAME),
    ("organizationalUnit", NameOID.ORGANIZATIONAL_UNIT_NAME),
    ("commonName", NameOID.COMMON_NAME),
    ("serialNumber", NameOID.SERIAL_NUMBER),
    ("emailAddress", NameOID.EMAIL_ADDRESS),
)
_SMALL_PRIMES = tuple(p for p in range(3, 2000) if all(p % q for q in range(2, int(p**0.5) + 1)))
_SMALL_PRIMES_PRODUCT = math.prod(_SMALL_PRIMES)  # one gcd instead of a division per small prime


class TlsEmulationError(ValueError):
    """The inputs would make pulumi-tls fail too; the message says which and why."""


def secret(value: str) -> dict[str, str]:
    """Mark an output secret on the wire, as the provider's `additionalSecretOutputs` would."""
    return {SECRET_SIG_KEY: SECRET_SIG, "value": value}


# --- deterministic key material ------------------------------------------------------------


def _seed(type_token: str, name: str, ctx: OfflineContext) -> bytes:
    return f"stockade-offline-tls/{ctx.project}/{ctx.stack}/{type_token}/{name}".encode()


def _stream(seed: bytes) -> Iterator[bytes]:
    counter = 0
    while True:
        yield hashlib.sha512(seed + counter.to_bytes(8, "big")).digest()
        counter += 1


def _bits(stream: Iterator[bytes], bits: int) -> int:
    size = (bits + 7) // 8
    buffer = b""
    while len(buffer) < size:
        buffer += next(stream)
    return int.from_bytes(buffer[:size], "big") >> (size * 8 - bits)


def _probably_prime(candidate: int, stream: Iterator[bytes], rounds: int = 24) -> bool:
    odd, twos = candidate - 1, 0
    while odd % 2 == 0:
        odd //= 2
        twos += 1
    for _ in range(rounds):
        witness = 2 + _bits(stream, candidate.bit_length() - 1) % (candidate - 3)
        x = pow(witness, odd, candidate)
        if x in (1, candidate - 1):
            continue
        for _ in range(twos - 1):
            x = pow(x, 2, candidate)
            if x == candidate - 1:
                break
        else:
            return False
    return True


def _prime(stream: Iterator[bytes], bits: int, exponent: int) -> int:
    while True:
        # Top two bits set so p*q has exactly 2*bits bits; odd.
        candidate = _bits(stream, bits) | (3 << (bits - 2)) | 1
        if math.gcd(candidate, _SMALL_PRIMES_PRODUCT) != 1:
            continue
        if pow(2, candidate - 1, candidate) != 1 or (candidate - 1) % exponent == 0:
            continue
        if _probably_prime(candidate, stream):
            return candidate


def _search_primes(seed: bytes, bits: int, exponent: int) -> tuple[int, int]:
    stream = _stream(seed)
    p = _prime(stream, bits // 2, exponent)
    q = _prime(stream, bits - bits // 2, exponent)
    while q == p:
        q = _prime(stream, bits - bits // 2, exponent)
    return p, q


@cache
def _rsa_key(seed: bytes, bits: int) -> rsa.RSAPrivateKey:
    # The cryptography library only generates RSA keys from the OS's randomness, so a
    # seeded key is assembled from seeded primes. The search takes seconds for 4096 bits,
    # so its primes are kept on disk (rsa_cache) and in memory for this process.
    exponent = 65537
    p, q = cached_primes(seed, bits, exponent, lambda: _search_primes(seed, bits, exponent))
    d = pow(exponent, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=rsa.RSAPublicNumbers(exponent, p * q),
    )
    # OpenSSL's key check re-tests both primes (most of a second at 4096 bits); these
    # passed the search's Miller-Rabin rounds, or came from its cache entry.
    return _remember(numbers.private_key(unsafe_skip_rsa_key_validation=True))


_issued_rsa: dict[str, rsa.RSAPrivateKey] = {}
"""PKCS#1 PEM -> key, for the RSA keys this process derived (certificates load them back)."""


def _remember(key: rsa.RSAPrivateKey) -> rsa.RSAPrivateKey:
    _issued_rsa[_private_pem(key)] = key
    return key


def derive_private_key(inputs: dict[str, Any], seed: bytes) -> PrivateKeyTypes:
    """The key pulumi-tls would generate for these inputs, derived from `seed` instead of randomness."""
    algorithm = inputs.get("algorithm")
    if algorithm == "ECDSA":
        curve_name = inputs.get("ecdsaCurve") or "P224"  # the provider's documented default
        curve = _CURVES.get(curve_name)
        if curve is None:
            raise TlsEmulationError(f"ecdsa_curve {curve_name!r} is not one of {', '.join(_CURVES)}")
        # One bit short of the curve size keeps the scalar below the group order.
        scalar = _bits(_stream(seed), curve.key_size - 1) or 1
        return ec.derive_private_key(scalar, curve)
    if algorithm == "RSA":
        bits = int(inputs.get("rsaBits") or 2048)  # the provider's documented default
        if bits < 1024:
            raise TlsEmulationError(f"rsa_bits {bits} is too small for a usable key")
        return _rsa_key(seed, bits)
    if algorithm == "ED25519":
        return ed25519.Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed).digest())
    raise TlsEmulationError(f"algorithm {algorithm!r} is not one of RSA, ECDSA, ED25519")


def key_algorithm(key: PrivateKeyTypes | PublicKeyTypes) -> str:
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return "RSA"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return "ECDSA"
    return "ED25519"


def _private_pem(key: PrivateKeyTypes) -> str:
    # The provider writes PKCS#1 for RSA, SEC 1 for ECDSA and PKCS#8 for Ed25519.
    fmt = {
        "RSA": serialization.PrivateFormat.TraditionalOpenSSL,
        "ECDSA": serialization.PrivateFormat.TraditionalOpenSSL,
        "ED25519": serialization.PrivateFormat.PKCS8,
    }[key_algorithm(key)]
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()


def _openssh_public(key: PrivateKeyTypes) -> str:
    public = key.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp224r1":
        return ""  # OpenSSH has no P-224 format; the provider leaves these empty too
    text = public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return text.decode() + "\n"


def _fingerprints(openssh_public: str) -> tuple[str, str]:
    if not openssh_public:
        return "", ""
    blob = base64.b64decode(openssh_public.split()[1])
    md5 = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    sha256 = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return ":".join(md5[i : i + 2] for i in range(0, len(md5), 2)), f"SHA256:{sha256}"


@_emulates(PRIVATE_KEY)
def emulate_private_key(name: str, inputs: dict[str, Any], ctx: OfflineContext) -> dict[str, Any]:
    key = derive_private_key(inputs, _seed(PRIVATE_KEY, name, ctx))
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    openssh_public = _openssh_public(key)
    md5, sha256 = _fingerprints(openssh_public)
    openssh_private = ""
    if openssh_public:
        openssh_private = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
        ).decode()
    pkcs8 = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    outputs: dict[str, Any] = {
        "id": hashlib.sha1(public_pem, usedforsecurity=False).hexdigest(),
        "privateKeyPem": secret(_private_pem(key)),
        "privateKeyPemPkcs8": secret(pkcs8),
        "privateKeyOpenssh": secret(openssh_private),
        "publicKeyPem": public_pem.decode(),
        "publicKeyOpenssh": openssh_public,
        "publicKeyFingerprintMd5": md5,
        "publicKeyFingerprintSha256": sha256,
    }
    if inputs.get("algorithm") == "ECDSA":
        outputs["ecdsaCurve"] = inputs.get("ecdsaCurve") or "P224"
    if inputs.get("algorithm") == "RSA":
        outputs["rsaBits"] = int(inputs.get("rsaBits") or 2048)
    return outputs


# --- certificates ---------------------------------------------------------------------------


def _load_private_key(inputs: dict[str, Any], plain: str, write_only: str, what: str) -> PrivateKeyTypes:
    given = [inputs.get(plain), inputs.get(write_only)]
    present = [v for v in given if v]
    if len(present) != 1:
        raise TlsEmulationError(f"exactly one of {plain} or {write_only} must be set for {what}")
    issued = _issued_rsa.get(str(present[0]))
    if issued is not None:
        return issued  # our own key: parsing it again would re-test its primes
    key = serialization.load_pem_private_key(str(present[0]).encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise TlsEmulationError(f"{what}: unsupported private key type {type(key).__name__}")
    return key


def subject_name(subject: dict[str, Any] | None) -> x509.Name:
    """The provider's subject block as an X.509 name (each field optional)."""
    attributes: list[x509.NameAttribute] = []
    subject = subject or {}
    for field, oid in _SUBJECT_FIELDS:
        value = subject.get(field)
        if value:
            attributes.append(x509.NameAttribute(oid, str(value)))
    for street in subject.get("streetAddresses") or []:
        attributes.append(x509.NameAttribute(NameOID.STREET_ADDRESS, str(street)))
    return x509.Name(attributes)


def subject_key_id(public_key: PublicKeyTypes) -> bytes:
    """SHA-1 over the bytes Go's provider hashes (RFC 5280 section 4.2.1.2, method 1)."""
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        # Go marshals the key slice as an ASN.1 OCTET STRING before hashing it.
        return hashlib.sha1(b"\x04" + bytes([len(raw)]) + raw, usedforsecurity=False).digest()
    return x509.SubjectKeyIdentifier.from_public_key(public_key).digest


def _alternative_names(inputs: dict[str, Any]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(str(n)) for n in inputs.get("dnsNames") or []]
    names += [x509.IPAddress(ipaddress.ip_address(str(a))) for a in inputs.get("ipAddresses") or []]
    names += [x509.UniformResourceIdentifier(str(u)) for u in inputs.get("uris") or []]
    return names


def _usage_extensions(allowed_uses: list[str]) -> tuple[x509.KeyUsage | None, x509.ExtendedKeyUsage | None]:
    unknown = sorted(set(allowed_uses) - set(_KEY_USAGES) - set(_EXTENDED_KEY_USAGES))
    if unknown:
        raise TlsEmulationError(f"allowed_uses has values the provider does not accept: {unknown}")
    flags = {use: use in allowed_uses for use in _KEY_USAGES}
    if (flags["encipher_only"] or flags["decipher_only"]) and not flags["key_agreement"]:
        # RFC 5280 gives these bits meaning only with keyAgreement; the library refuses them.
        raise TlsEmulationError("encipher_only/decipher_only need key_agreement in allowed_uses")
    key_usage = x509.KeyUsage(
        digital_signature=flags["digital_signature"],
        content_commitment=flags["content_commitment"],
        key_encipherment=flags["key_encipherment"],
        data_encipherment=flags["data_encipherment"],
        key_agreement=flags["key_agreement"],
        key_cert_sign=flags["cert_signing"],
        crl_sign=flags["crl_signing"],
        encipher_only=flags["encipher_only"],
        decipher_only=flags["decipher_only"],
    )
    extended = [_EXTENDED_KEY_USAGES[u] for u in allowed_uses if u in _EXTENDED_KEY_USAGES]
    return (
        key_usage if any(flags.values()) else None,
        x509.ExtendedKeyUsage(extended) if extended else None,
    )


def _serial(type_token: str, name: str, ctx: OfflineContext) -> int:
    # 127 bits: positive and unique per resource, like the provider's random 128-bit serials.
    return (int.from_bytes(hashlib.sha256(_seed(type_token, name, ctx)).digest()[:16], "big") >> 1) or 1


def _rfc3339(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _sign(builder: x509.CertificateBuilder, issuer_key: PrivateKeyTypes) -> x509.Certificate:
    if isinstance(issuer_key, ed25519.Ed25519PrivateKey):
        return builder.sign(issuer_key, None)
    if isinstance(issuer_key, ec.EllipticCurvePrivateKey):
        algorithm = _CURVE_HASH[issuer_key.curve.name]()
        return builder.sign(issuer_key, algorithm, ecdsa_deterministic=True)
    return builder.sign(issuer_key, hashes.SHA256())


def _certificate(
    *,
    type_token: str,
    name: str,
    inputs: dict[str, Any],
    ctx: OfflineContext,
    subject: x509.Name,
    public_key: PublicKeyTypes,
    alternative_names: list[x509.GeneralName],
    issuer: x509.Certificate | None,
    issuer_key: PrivateKeyTypes,
) -> dict[str, Any]:
    hours = int(inputs.get("validityPeriodHours") or 0)
    if hours <= 0:
        raise TlsEmulationError(f"{name}: validity_period_hours must be a positive number of hours")
    not_after = OFFLINE_NOT_BEFORE + dt.timedelta(hours=hours)
    is_ca = bool(inputs.get("isCaCertificate"))
    if is_ca and len(subject) == 0:
        raise TlsEmulationError(
            f"{name}: must contain at least one Distinguished Name when creating Certificate Authority (CA)"
        )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer is not None else subject)
        .public_key(public_key)
        .serial_number(_serial(type_token, name, ctx))
        .not_valid_before(OFFLINE_NOT_BEFORE)
        .not_valid_after(not_after)
    )
    max_path = inputs.get("maxPathLength")
    # Go treats MaxPathLen 0 without MaxPathLenZero as "no limit", so only > 0 is written.
    path_length = int(max_path) if is_ca and max_path is not None and int(max_path) > 0 else None
    builder = builder.add_extension(x509.BasicConstraints(ca=is_ca, path_length=path_length), critical=True)
    key_usage, extended = _usage_extensions(list(inputs.get("allowedUses") or []))
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    if extended is not None:
        builder = builder.add_extension(extended, critical=False)
    if alternative_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(alternative_names), critical=len(subject) == 0
        )
    own_ski = subject_key_id(public_key)
    if is_ca or inputs.get("setSubjectKeyId"):
        builder = builder.add_extension(x509.SubjectKeyIdentifier(own_ski), critical=False)
    authority_key_id = _authority_key_id(inputs, issuer, is_ca, own_ski, name)
    if authority_key_id is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier(authority_key_id, None, None), critical=False
        )
    certificate = _sign(builder, issuer_key)
    return {
        "id": str(certificate.serial_number),
        "certPem": certificate.public_bytes(serialization.Encoding.PEM).decode(),
        "validityStartTime": _rfc3339(OFFLINE_NOT_BEFORE),
        "validityEndTime": _rfc3339(not_after),
        "readyForRenewal": False,
    }


def _authority_key_id(
    inputs: dict[str, Any], issuer: x509.Certificate | None, is_ca: bool, own_ski: bytes, name: str
) -> bytes | None:
    if issuer is None:
        if not inputs.get("setAuthorityKeyId"):
            return None
        if not (is_ca or inputs.get("setSubjectKeyId")):
            raise TlsEmulationError(f"{name}: Could not determine Authority Key Identifier")
        return own_ski
    try:
        return issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None  # Go writes no AKI when the issuer has no SKI


@_emulates(SELF_SIGNED_CERT)
def emulate_self_signed_cert(name: str, inputs: dict[str, Any], ctx: OfflineContext) -> dict[str, Any]:
    key = _load_private_key(inputs, "privateKeyPem", "privateKeyPemWo", name)
    outputs = _certificate(
        type_token=SELF_SIGNED_CERT,
        name=name,
        inputs=inputs,
        ctx=ctx,
        subject=subject_name(inputs.get("subject")),
        public_key=key.public_key(),
        alternative_names=_alternative_names(inputs),
        issuer=None,
        issuer_key=key,
    )
    outputs["keyAlgorithm"] = key_algorithm(key)
    return outputs


@_emulates(CERT_REQUEST)
def emulate_cert_request(name: str, inputs: dict[str, Any], ctx: OfflineContext) -> dict[str, Any]:
    key = _load_private_key(inputs, "privateKeyPem", "privateKeyPemWo", name)
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject_name(inputs.get("subject")))
    names = _alternative_names(inputs)
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        request = builder.sign(key, None)
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        request = builder.sign(key, _CURVE_HASH[key.curve.name](), ecdsa_deterministic=True)
    else:
        request = builder.sign(key, hashes.SHA256())
    return {
        "certRequestPem": request.public_bytes(serialization.Encoding.PEM).decode(),
        "keyAlgorithm": key_algorithm(key),
    }


@_emulates(LOCALLY_SIGNED_CERT)
def emulate_locally_signed_cert(name: str, inputs: dict[str, Any], ctx: OfflineContext) -> dict[str, Any]:
    ca_key = _load_private_key(inputs, "caPrivateKeyPem", "caPrivateKeyPemWo", name)
    ca_cert = x509.load_pem_x509_certificate(str(inputs.get("caCertPem") or "").encode())
    if ca_cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != ca_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise TlsEmulationError(f"{name}: ca_private_key_pem does not belong to ca_cert_pem")
    request = x509.load_pem_x509_csr(str(inputs.get("certRequestPem") or "").encode())
    if not request.is_signature_valid:
        raise TlsEmulationError(f"{name}: the certificate request's signature does not verify")
    try:
        names = list(request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        names = []
    public_key = request.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        raise TlsEmulationError(f"{name}: unsupported public key in the certificate request")
    outputs = _certificate(
        type_token=LOCALLY_SIGNED_CERT,
        name=name,
        inputs=inputs,
        ctx=ctx,
        subject=request.subject,
        public_key=public_key,
        alternative_names=names,
        issuer=ca_cert,
        issuer_key=ca_key,
    )
    outputs["caKeyAlgorithm"] = key_algorithm(ca_key)
    return outputs

"""The tunnel's inner-TLS certificates: what Stockade generates meets docs/vendor-interface.md §2.3.

The PEMs come from the offline emulation of pulumi-tls (stockade.emulators.tls),
which builds real certificates from the inputs Stockade passes; the tests parse them
with `cryptography`. They check Stockade's inputs and the emulation's fidelity to the
provider's documented semantics, not pulumi-tls itself.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from stockade.emulators import emulate
from stockade.emulators.tls import (
    CERT_REQUEST,
    LOCALLY_SIGNED_CERT,
    OFFLINE_NOT_BEFORE,
    PRIVATE_KEY,
    SELF_SIGNED_CERT,
    TlsEmulationError,
)
from stockade.engine.context import OfflineContext
from stockade.engine.redact import is_secret, unwrap
from stockade.tunnel.certificate_rules import ca_problems, hostname_covered, main, server_problems

DOMAIN = "a0b1c2d3.tunnel.anthropic.com"
CTX = OfflineContext(project="stockade", stack="test")


# --- what prod-use1 generates -----------------------------------------------------------------


@pytest.fixture
def prod_pems(synth_stack) -> tuple[x509.Certificate, x509.Certificate, str, str]:
    """prod-use1's CA and server certificate, as the stack exports them (synth cached per session)."""
    outputs = synth_stack("prod-use1").outputs
    ca_pem, server_pem = outputs["tunnelCaCertificatePem"], outputs["tunnelServerCertificatePem"]
    ca = x509.load_pem_x509_certificate(ca_pem.encode())
    server = x509.load_pem_x509_certificate(server_pem.encode())
    return ca, server, ca_pem, server_pem


def test_ca_has_critical_ca_true_an_ski_and_key_cert_sign(prod_pems) -> None:
    ca, _, _, _ = prod_pems
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca is True
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert ski == x509.SubjectKeyIdentifier.from_public_key(ca.public_key()).digest
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)
    assert ca.public_key().curve.name == "secp256r1"
    assert isinstance(ca.signature_hash_algorithm, hashes.SHA256)
    assert ca.not_valid_after_utc - ca.not_valid_before_utc == dt.timedelta(hours=43800)


def test_server_cert_is_signed_by_the_ca_for_the_wildcard_with_server_auth(prod_pems) -> None:
    ca, server, _, _ = prod_pems
    aki = server.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    assert aki == ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == [f"*.{DOMAIN}"]
    assert (
        ExtendedKeyUsageOID.SERVER_AUTH
        in server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    )
    assert server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    server.verify_directly_issued_by(ca)
    assert server.issuer == ca.subject
    assert server.not_valid_after_utc - server.not_valid_before_utc == dt.timedelta(hours=2160)


def test_the_generated_pair_passes_the_contract_checker(prod_pems) -> None:
    _, _, ca_pem, server_pem = prod_pems
    assert ca_problems(ca_pem) == []
    hostnames = [f"{route}.{DOMAIN}" for route in ("wiki", "search", "tickets")]
    assert server_problems(server_pem, hostnames=hostnames, ca_pem=ca_pem) == []


def test_private_keys_never_reach_the_synth_output(synth_stack) -> None:
    text = synth_stack("prod-use1").to_json()
    assert "PRIVATE KEY" not in text
    assert "-----BEGIN CERTIFICATE-----" in text  # the CA export is public and present


# --- the emulation follows the provider's documented semantics ---------------------------------


def _key(name: str, **inputs: Any) -> tuple[dict[str, Any], Any]:
    outputs = emulate(PRIVATE_KEY, name, inputs, CTX)
    assert is_secret(outputs["privateKeyPem"]) and is_secret(outputs["privateKeyPemPkcs8"])
    pem = unwrap(outputs["privateKeyPem"])
    return outputs, serialization.load_pem_private_key(pem.encode(), password=None)


def _ca(key_pem: str, **extra: Any) -> dict[str, Any]:
    inputs = {
        "privateKeyPem": key_pem,
        "isCaCertificate": True,
        "allowedUses": ["cert_signing", "crl_signing"],
        "validityPeriodHours": 100,
        "subject": {"commonName": "Test CA", "organization": "Stockade"},
        **extra,
    }
    return emulate(SELF_SIGNED_CERT, "ca", inputs, CTX)


def test_keys_follow_algorithm_and_curve_and_are_deterministic_per_name() -> None:
    outputs, key = _key("k1", algorithm="ECDSA", ecdsaCurve="P256")
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    assert unwrap(outputs["privateKeyPem"]).startswith("-----BEGIN EC PRIVATE KEY-----")
    again, _ = _key("k1", algorithm="ECDSA", ecdsaCurve="P256")
    other, _ = _key("k2", algorithm="ECDSA", ecdsaCurve="P256")
    assert again["publicKeyPem"] == outputs["publicKeyPem"] != other["publicKeyPem"]
    assert outputs["publicKeyFingerprintSha256"].startswith("SHA256:")
    _, default_curve = _key("k3", algorithm="ECDSA")
    assert default_curve.curve.name == "secp224r1"  # the provider's documented default
    rsa_outputs, rsa_key = _key("k4", algorithm="RSA", rsaBits=2048)
    assert isinstance(rsa_key, rsa.RSAPrivateKey) and rsa_key.key_size == 2048
    assert unwrap(rsa_outputs["privateKeyPem"]).startswith("-----BEGIN RSA PRIVATE KEY-----")
    _, ed_key = _key("k5", algorithm="ED25519")
    assert isinstance(ed_key, ed25519.Ed25519PrivateKey)
    with pytest.raises(TlsEmulationError, match="algorithm 'DSA'"):
        _key("k6", algorithm="DSA")


def test_self_signed_ca_semantics_and_optional_aki() -> None:
    key_outputs, _ = _key("ca-key", algorithm="ECDSA", ecdsaCurve="P384")
    key_pem = unwrap(key_outputs["privateKeyPem"])
    plain = x509.load_pem_x509_certificate(_ca(key_pem)["certPem"].encode())
    with pytest.raises(x509.ExtensionNotFound):
        plain.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    assert isinstance(plain.signature_hash_algorithm, hashes.SHA384)  # Go's choice for P-384
    with_aki = _ca(key_pem, setAuthorityKeyId=True, maxPathLength=1)
    certificate = x509.load_pem_x509_certificate(with_aki["certPem"].encode())
    aki = certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    assert aki == certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 1
    assert with_aki["validityStartTime"] == "2026-01-01T00:00:00Z"
    assert with_aki["validityEndTime"] == "2026-01-05T04:00:00Z"
    assert with_aki["id"] == str(certificate.serial_number)
    assert _ca(key_pem)["certPem"] == _ca(key_pem)["certPem"]  # byte-identical run to run


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"subject": {}}, "at least one Distinguished Name"),
        ({"allowedUses": ["cert_signing", "world_domination"]}, "does not accept"),
        (
            {"isCaCertificate": False, "setAuthorityKeyId": True},
            "Could not determine Authority Key Identifier",
        ),
        ({"validityPeriodHours": 0}, "validity_period_hours"),
    ],
)
def test_inputs_the_provider_refuses_are_refused(change: dict[str, Any], message: str) -> None:
    key_outputs, _ = _key("bad-key", algorithm="ECDSA", ecdsaCurve="P256")
    with pytest.raises(TlsEmulationError, match=message):
        _ca(unwrap(key_outputs["privateKeyPem"]), **change)


def test_locally_signed_cert_takes_subject_and_sans_from_the_request() -> None:
    ca_key_outputs, _ = _key("ca-key", algorithm="ECDSA", ecdsaCurve="P256")
    ca_key_pem = unwrap(ca_key_outputs["privateKeyPem"])
    ca = _ca(ca_key_pem)
    server_key_outputs, _ = _key("server-key", algorithm="RSA", rsaBits=2048)
    request = emulate(
        CERT_REQUEST,
        "request",
        {
            "privateKeyPem": unwrap(server_key_outputs["privateKeyPem"]),
            "dnsNames": [f"*.{DOMAIN}"],
            "subject": {"commonName": f"*.{DOMAIN}"},
        },
        CTX,
    )
    inputs = {
        "certRequestPem": request["certRequestPem"],
        "caPrivateKeyPem": ca_key_pem,
        "caCertPem": ca["certPem"],
        "allowedUses": ["digital_signature", "key_encipherment", "server_auth"],
        "validityPeriodHours": 24,
    }
    signed = emulate(LOCALLY_SIGNED_CERT, "server", inputs, CTX)
    certificate = x509.load_pem_x509_certificate(signed["certPem"].encode())
    ca_cert = x509.load_pem_x509_certificate(ca["certPem"].encode())
    certificate.verify_directly_issued_by(ca_cert)
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == f"*.{DOMAIN}"
    assert hostname_covered(certificate, f"wiki.{DOMAIN}")
    assert not hostname_covered(certificate, f"a.b.{DOMAIN}")
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment and not usage.key_cert_sign
    assert signed["caKeyAlgorithm"] == "ECDSA"
    assert certificate.not_valid_before_utc == OFFLINE_NOT_BEFORE
    other_key, _ = _key("not-the-ca", algorithm="ECDSA", ecdsaCurve="P256")
    with pytest.raises(TlsEmulationError, match="does not belong to ca_cert_pem"):
        emulate(
            LOCALLY_SIGNED_CERT,
            "server",
            {**inputs, "caPrivateKeyPem": unwrap(other_key["privateKeyPem"])},
            CTX,
        )


# --- the contract checker catches what Anthropic would refuse ----------------------------------


def _self_signed(
    *, ca: bool, eku: list[x509.ObjectIdentifier] | None, names: list[str], ski: bool = True
) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(OFFLINE_NOT_BEFORE)
        .not_valid_after(OFFLINE_NOT_BEFORE + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if ski:
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


def test_checker_flags_a_ca_without_ski_or_key_cert_sign() -> None:
    problems = ca_problems(_self_signed(ca=True, eku=None, names=[], ski=False))
    assert "the SubjectKeyIdentifier extension is missing" in problems
    assert "KeyUsage with keyCertSign is missing" in problems


def test_checker_flags_a_server_cert_without_server_auth_or_the_right_name() -> None:
    pem = _self_signed(ca=False, eku=[ExtendedKeyUsageOID.CLIENT_AUTH], names=["wiki.example.com"])
    problems = server_problems(pem, hostnames=[f"wiki.{DOMAIN}"])
    assert any("do not cover" in p for p in problems)
    assert "it has an ExtendedKeyUsage without serverAuth" in problems


def test_a_provided_certificate_the_vendor_would_refuse_fails_validation(example_config) -> None:
    from stockade.settings import SettingsError
    from stockade.settings.load import validate

    config = example_config("prod-use1")
    config["stockade:tunnel"]["certificates"] = {
        "source": "provided",
        "serverCertificatePem": _self_signed(
            ca=False, eku=[ExtendedKeyUsageOID.CLIENT_AUTH], names=["x.test"]
        ),
        "serverKey": {"secure": "v1:NbctXl//cauiW66M:djE6YWJj433PDNu/F/xk4dALQWatcQ=="},
    }
    with pytest.raises(SettingsError) as caught:
        validate("t", config)
    problem = next(p for p in caught.value.problems if p.key.endswith("certificates.serverCertificatePem"))
    assert "would be refused" in problem.message and "serverAuth" in problem.message


def test_checker_cli_reports_ok_and_problems(tmp_path, prod_pems, capsys) -> None:
    _, _, ca_pem, server_pem = prod_pems
    (tmp_path / "ca.pem").write_text(ca_pem)
    (tmp_path / "server.pem").write_text(server_pem)
    assert main([str(tmp_path / "ca.pem"), str(tmp_path / "server.pem"), f"wiki.{DOMAIN}"]) == 0
    assert "ok:" in capsys.readouterr().out
    assert main([str(tmp_path / "ca.pem"), str(tmp_path / "server.pem"), "wiki.other.example"]) == 1
    assert "do not cover wiki.other.example" in capsys.readouterr().out

"""`stockade:tls:TunnelCertificates`: the inner-TLS CA and server certificate (docs/vendor-interface.md §2.3).

Target-independent: the AWS gateway stores the outputs in Secrets Manager, the
Docker target writes them to the host. Built with pulumi-tls, so the keys live
only in Pulumi state (encrypted as secrets) and in wherever the caller puts
them.

What the contract asks, and how each is met:

* CA: one PEM, ECDSA P-256 with SHA-256, `BasicConstraints CA:TRUE` (critical),
  a SubjectKeyIdentifier (`set_subject_key_id`; pulumi-tls also adds it for every
  CA), `keyCertSign` (`cert_signing`) plus `crlSigning`.
* Server: signed directly by that CA (`LocallySignedCert`), so its
  AuthorityKeyIdentifier is the CA's SKI (the provider copies the issuer's SKI);
  SAN `*.<tunnelDomain>` (or the route hostnames when no domain is known); EKU
  `serverAuth`, KeyUsage `digitalSignature` (plus `keyEncipherment` for RSA keys,
  where it means something).
* Renewal: `early_renewal_hours = renewBeforeHours`, so the first `pulumi up`
  inside that window replaces the server certificate (same key, same CA). The
  CA is not renewed early: a new CA must be registered with Anthropic first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NotRequired, TypedDict

import pulumi
import pulumi_tls as tls

CA_ALLOWED_USES: tuple[str, ...] = ("cert_signing", "crl_signing")
ECDSA_SERVER_USES: tuple[str, ...] = ("digital_signature", "server_auth")
RSA_SERVER_USES: tuple[str, ...] = ("digital_signature", "key_encipherment", "server_auth")
RSA_SERVER_BITS = 4096  # what the vendor's setup uses for its server certificate


class TunnelCertificatesArgs(TypedDict):
    """Inputs of TunnelCertificates."""

    dns_names: Sequence[str]
    """SANs of the server certificate: `*.<tunnelDomain>`, or the route hostnames."""

    server_validity_hours: int
    """Server certificate lifetime in hours."""

    renew_before_hours: int
    """Re-issue the server certificate on the first `pulumi up` this many hours before expiry."""

    ca_validity_hours: int
    """CA lifetime in hours."""

    server_key_algorithm: Literal["ECDSA", "RSA"]
    """`ECDSA` (P-256) or `RSA` (4096 bits) for the server key."""

    common_name: NotRequired[str]
    """CA common name; defaults to one naming the stack."""


def dns_names_for(tunnel_domain: str | None, hostnames: Sequence[str]) -> list[str]:
    """The server certificate's SANs: one wildcard under the tunnel domain, else each hostname."""
    return [f"*.{tunnel_domain}"] if tunnel_domain else sorted(set(hostnames))


class TunnelCertificates(pulumi.ComponentResource):
    """A private CA for the tunnel and a wildcard server certificate it signs."""

    ca_certificate_pem: pulumi.Output[str]
    """Register this with Anthropic (Console or `POST /v1/tunnels/{id}/certificates`)."""
    server_certificate_pem: pulumi.Output[str]
    server_private_key_pem: pulumi.Output[str]
    """Secret."""
    server_certificate_expires: pulumi.Output[str]
    """RFC 3339 notAfter of the server certificate."""

    def __init__(
        self, name: str, args: TunnelCertificatesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stockade:tls:TunnelCertificates", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if not args["dns_names"]:
            raise ValueError(f"{name}: the server certificate needs at least one DNS name")
        if args["renew_before_hours"] >= args["server_validity_hours"]:
            raise ValueError(f"{name}: renew_before_hours must be shorter than server_validity_hours")

        ca_key = tls.PrivateKey(f"{name}-ca-key", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
        ca = tls.SelfSignedCert(
            f"{name}-ca",
            private_key_pem=ca_key.private_key_pem,
            is_ca_certificate=True,
            set_subject_key_id=True,
            allowed_uses=list(CA_ALLOWED_USES),
            validity_period_hours=args["ca_validity_hours"],
            subject=tls.SelfSignedCertSubjectArgs(
                common_name=args.get("common_name") or f"Stockade MCP tunnel CA ({pulumi.get_stack()})",
                organization="Stockade",
            ),
            opts=child,
        )
        if args["server_key_algorithm"] == "RSA":
            server_key = tls.PrivateKey(
                f"{name}-server-key", algorithm="RSA", rsa_bits=RSA_SERVER_BITS, opts=child
            )
            uses = RSA_SERVER_USES
        else:
            server_key = tls.PrivateKey(
                f"{name}-server-key", algorithm="ECDSA", ecdsa_curve="P256", opts=child
            )
            uses = ECDSA_SERVER_USES
        request = tls.CertRequest(
            f"{name}-server-request",
            private_key_pem=server_key.private_key_pem,
            dns_names=list(args["dns_names"]),
            subject=tls.CertRequestSubjectArgs(common_name=args["dns_names"][0], organization="Stockade"),
            opts=child,
        )
        server = tls.LocallySignedCert(
            f"{name}-server",
            cert_request_pem=request.cert_request_pem,
            ca_private_key_pem=ca_key.private_key_pem,
            ca_cert_pem=ca.cert_pem,
            allowed_uses=list(uses),
            set_subject_key_id=True,
            validity_period_hours=args["server_validity_hours"],
            early_renewal_hours=args["renew_before_hours"],
            opts=child,
        )
        self.ca_certificate_pem = ca.cert_pem
        self.server_certificate_pem = server.cert_pem
        self.server_private_key_pem = pulumi.Output.secret(server_key.private_key_pem)
        self.server_certificate_expires = server.validity_end_time
        self.register_outputs(
            {
                "ca_certificate_pem": self.ca_certificate_pem,
                "server_certificate_pem": self.server_certificate_pem,
                "server_private_key_pem": self.server_private_key_pem,
                "server_certificate_expires": self.server_certificate_expires,
            }
        )

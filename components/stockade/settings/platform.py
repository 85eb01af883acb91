"""Settings about the platform a stack lands on: the AWS account or the Docker host."""

from collections.abc import Iterator
from enum import StrEnum
from ipaddress import IPv4Network
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from stockade.settings.base import DEFERRED, BuiltWhenSet, SettingsModel, empty_list
from stockade.settings.problems import invalid
from stockade.settings.secrets import PulumiSecretInput
from stockade.settings.types import AwsAccountId, IamArn, ImageRef, Ipv4Cidr, KmsKeyArn, LogRetentionDays


class AwsSettings(SettingsModel):
    """`stockade:aws`: account-level settings for AWS stacks."""

    model_config = SettingsModel.model_config | DEFERRED

    account_id: AwsAccountId
    """The account this stack must deploy into; synth answers caller-identity with it and
    rollouts refuse credentials for any other account."""

    permissions_boundary_arn: IamArn | None = None
    """A permissions boundary attached to every role Stockade creates. A deployer role made by
    `stockade bootstrap` creates roles only under `arn:aws:iam::ACCOUNT:policy/stockade-boundary`
    (its `--workload-boundary-name`), so set that here in every stack it deploys."""

    kms_key_arn: KmsKeyArn | None = None
    """Use this customer-managed key instead of creating one (rotation must be on)."""

    log_retention_days: LogRetentionDays = 365
    """Retention for every log group Stockade creates."""

    protect_stateful_resources: bool = True
    """Protect what cannot be recreated (the KMS key, the artifacts bucket, the tunnel's setup
    state and credentials): `pulumi destroy` stops at them, and a delete leaves them in the
    account. Set false only to tear the environment down on purpose
    (docs/runbooks/destroy-an-environment.md); reported as a weakening."""


class ContainerRuntime(StrEnum):
    RUNC = "runc"
    """Docker's default runtime: namespaces and seccomp."""
    RUNSC = "runsc"
    """gVisor: a user-space kernel between sandboxes and the host. Must be installed on the host."""


# Third-party images the docker target runs besides the vendor's. The digests are the ones
# public deployment files pin (docs/docker-host.md, "Images"); refresh them deliberately.
DEFAULT_SOCKET_PROXY_IMAGE = (
    "tecnativa/docker-socket-proxy@sha256:1f3a6f303320723d199d2316a3e82b2e2685d86c275d5e3deeaf182573b47476"
)
DEFAULT_EGRESS_PROXY_IMAGE = (
    "ubuntu/squid@sha256:6a097f68bae708cedbabd6188d68c7e2e7a38cedd05a176e1cc0ba29e3bbe029"
)
DEFAULT_SANDBOX_SUBNET = IPv4Network("10.213.0.0/22")
_SSH_OPT = r"^-[A-Za-z0-9]$|^[A-Za-z][A-Za-z0-9]*=[^\s]+$|^[^\s-][^\s]*$"


def _docker_host(value: str) -> str:
    """`DOCKER_HOST` syntax, restricted to the transports Stockade supports."""
    fix = "use unix:///var/run/docker.sock, ssh://user@host[:port] or tcp://host:2376 (with docker.tls)"
    parts = urlsplit(value)
    if parts.scheme == "unix":
        if parts.netloc or not parts.path.startswith("/"):
            raise invalid("a unix:// host is an absolute socket path", fix)
        return value
    if parts.scheme not in ("ssh", "tcp"):
        raise invalid(f"the '{parts.scheme or value}' transport is not supported", fix)
    try:
        port = parts.port
    except ValueError:
        raise invalid("the port is not a number from 1 to 65535", fix) from None
    if not parts.hostname or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise invalid(f"a {parts.scheme}:// host is {parts.scheme}://[user@]host[:port] with no path", fix)
    if parts.password:
        raise invalid("a Docker host URL carries no password", "use an SSH key (ssh-agent) or docker.tls")
    if parts.scheme == "tcp" and port is None:
        raise invalid("a tcp:// host needs its port (2376 for TLS)", fix)
    return value


DockerHost = Annotated[str, AfterValidator(_docker_host)]
"""A Docker daemon address: unix://, ssh:// or tcp://."""

HostPath = Annotated[str, Field(pattern=r"^/[\w./-]*$", max_length=4096)]


class DockerTlsSettings(SettingsModel):
    """Client TLS for a `tcp://` Docker host whose daemon runs with `--tlsverify`."""

    model_config = SettingsModel.model_config | DEFERRED

    cert_path: HostPath | None = None
    """Directory on the machine running Pulumi with `ca.pem`, `cert.pem` and `key.pem`
    (Docker's own layout, as for `DOCKER_CERT_PATH`)."""

    ca_certificate_pem: str | None = None
    """PEM of the CA that signed the daemon's certificate (instead of `certPath`)."""

    client_certificate_pem: str | None = None
    """PEM of the client certificate the daemon trusts (instead of `certPath`)."""

    client_key: PulumiSecretInput | None = None
    """The client certificate's private key, a Pulumi secret (instead of `certPath`)."""

    def rule_errors(self) -> Iterator[PydanticCustomError]:
        material = {
            "caCertificatePem": self.ca_certificate_pem,
            "clientCertificatePem": self.client_certificate_pem,
            "clientKey": self.client_key,
        }
        given = [name for name, value in material.items() if value is not None]
        if self.cert_path is not None and given:
            yield invalid(
                "certPath and inline certificates are two ways to say the same thing",
                "keep certPath, or remove it and keep caCertificatePem, clientCertificatePem and clientKey",
                field=given[0],
            )
        if self.cert_path is None and len(given) != len(material):
            missing = next(name for name in material if name not in given)
            yield invalid(
                "client TLS needs the CA, the client certificate and its key",
                "set certPath to a directory with ca.pem, cert.pem and key.pem, or all three of "
                "caCertificatePem, clientCertificatePem and clientKey",
                field=missing,
            )
        for name in ("caCertificatePem", "clientCertificatePem"):
            value = material[name]
            if isinstance(value, str) and "-----BEGIN CERTIFICATE-----" not in value:
                yield invalid(
                    "not a PEM certificate", "paste the whole -----BEGIN CERTIFICATE----- block", field=name
                )


class DockerImages(SettingsModel):
    """Third-party images the docker target runs next to the vendor's; pin them by digest."""

    socket_proxy: ImageRef = DEFAULT_SOCKET_PROXY_IMAGE
    """Per-session mode: the Docker API filter between the dispatch broker and the socket
    (tecnativa/docker-socket-proxy or an image with the same environment switches)."""

    egress_proxy: ImageRef = DEFAULT_EGRESS_PROXY_IMAGE
    """Filtered egress: the allowlisting forward proxy (a Squid image with `/usr/sbin/squid`)."""


class DockerSettings(SettingsModel):
    """`stockade:docker`: the Docker host for the `docker` target."""

    runtime: ContainerRuntime = ContainerRuntime.RUNC
    """OCI runtime for sandboxes; `runsc` (gVisor) is stronger isolation."""

    host: DockerHost | None = None
    """The Docker daemon to deploy to. Unset: the provider's own default (`docker:host`
    config, else `DOCKER_HOST`, else the local socket). `ssh://` uses the SSH agent;
    `tcp://` needs `tls` (or `allowInsecureTcp`)."""

    tls: Annotated[DockerTlsSettings | None, BuiltWhenSet()] = None
    """Client TLS for a `tcp://` host."""

    allow_insecure_tcp: bool = False
    """Allow `tcp://` without TLS: anyone on the network then controls the daemon (root on
    the host). Reported as a weakening."""

    ssh_opts: list[Annotated[str, Field(pattern=_SSH_OPT, max_length=256)]] = Field(
        default_factory=empty_list, max_length=20
    )
    """Extra `ssh` options for an `ssh://` host, e.g. `["-o", "StrictHostKeyChecking=yes"]`."""

    socket_path: HostPath = "/var/run/docker.sock"
    """Per-session mode: the daemon's socket path on the Docker host, mounted into the
    socket proxy only (rootless Docker: `/run/user/<uid>/docker.sock`)."""

    socket_group_id: Annotated[int, Field(ge=0, le=2147483647)] | None = None
    """Per-session mode (required): the group that owns the socket as the daemon mounts it
    (`docker run --rm -v /var/run/docker.sock:/s:ro busybox stat -c %g /s`). The socket
    proxy runs as 65532 with only this extra group, so it never runs as root."""

    sandbox_subnet: Ipv4Cidr = DEFAULT_SANDBOX_SUBNET
    """The sandbox network's IPv4 range (/16 to /28); the egress proxy admits clients from
    it only. Pick a range no network on the host uses."""

    keep_session_workspaces: bool = True
    """Per-session mode: keep each sandbox's `/workspace` as a named volume after it exits
    (deliverables land there); `false` discards it with the sandbox."""

    images: DockerImages = Field(default_factory=DockerImages)
    """Socket proxy and egress proxy images."""

    def rule_errors(self) -> Iterator[PydanticCustomError]:
        scheme = urlsplit(self.host).scheme if self.host else None
        if self.tls is not None and scheme != "tcp":
            yield invalid(
                "docker.tls applies to tcp:// hosts only",
                "remove tls, or set host: tcp://<host>:2376",
                field="tls",
            )
        if scheme == "tcp" and self.tls is None and not self.allow_insecure_tcp:
            yield invalid(
                "a tcp:// Docker host without TLS gives anyone on the network root on the host",
                "set docker.tls (certPath, or the CA, client certificate and key), use ssh://, or "
                "spell out allowInsecureTcp: true (reported as a weakening)",
                field="host",
            )
        if self.allow_insecure_tcp and (scheme != "tcp" or self.tls is not None):
            yield invalid(
                "allowInsecureTcp only means something for a tcp:// host without tls",
                "remove allowInsecureTcp",
                field="allowInsecureTcp",
            )
        if self.ssh_opts and scheme != "ssh":
            yield invalid(
                "sshOpts apply to ssh:// hosts only", "remove sshOpts, or use ssh://", field="sshOpts"
            )
        if not 16 <= self.sandbox_subnet.prefixlen <= 28:
            yield invalid(
                "the sandbox subnet must be between /16 and /28",
                "use e.g. 10.213.0.0/22",
                field="sandboxSubnet",
            )


class PolicySettings(SettingsModel):
    """`stockade:policy`: what guardrails enforce beyond the built-in invariants."""

    required_tags: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(
        default_factory=lambda: ["stockade:stack", "stockade:environment"]
    )
    """Tag keys every taggable AWS resource must carry."""

"""`stockade:aws:TunnelGateway`: the vendor's MCP tunnel stack on ECS Fargate (docs/vendor-interface.md §2).

One Fargate service; each task holds the vendor's two containers, which share
the task's network namespace (awsvpc), so cloudflared reaches the proxy on
`localhost:8080` exactly as `network_mode: service:mcp-proxy` does in the
vendor's Compose file. A short init container first writes the rendered proxy
config and the TLS files into task volumes (aws/gateway/files.py explains why).

Nothing reaches in: the security group has no ingress rule and the tasks have
no public IP. Out, they reach exactly cloudflared's edge on 7844 (TCP and UDP),
each route's target network on its port, and the AWS APIs through the VPC
endpoints. Replicas spread over the given private subnets; a deployment that
cannot reach steady state rolls back on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NotRequired, TypedDict

import pulumi

from stockade.aws.gateway.args import TunnelArgs, secret_field, tunnel_settings
from stockade.aws.gateway.files import (
    CONFIG_VOLUME,
    DATA_VOLUME,
    INIT_CONTAINER,
    FileSecrets,
    fingerprint,
    init_container,
    proxy_mounts,
)
from stockade.aws.gateway.images import resolve_images
from stockade.aws.gateway.monitoring import gateway_monitoring
from stockade.aws.shared.alarm_topic import subscription_args
from stockade.aws.shared.alarms import topic_for
from stockade.aws.shared.arns import partition_for
from stockade.aws.shared.containers import Container
from stockade.aws.shared.ecs_iam import execution_statements
from stockade.aws.shared.fargate import (
    TaskRuntime,
    TaskSpec,
    insights_cluster,
    private_service,
    task_definition,
)
from stockade.aws.shared.iam import ecs_tasks_trust_policy, role_with_policy
from stockade.aws.shared.logs import encrypted_log_group
from stockade.aws.shared.naming import naming_for
from stockade.aws.shared.secrets import provided_secret_arn, stored_secret
from stockade.aws.shared.security_groups import (
    EgressRule,
    aws_service_egress,
    egress_only_security_group,
    internet_https,
)
from stockade.settings.tunnel import (
    CLOUDFLARED_EDGE_CIDRS,
    CLOUDFLARED_EDGE_PORT,
    CertificateSource,
    TunnelSettings,
)
from stockade.tags import with_component
from stockade.tunnel.proxy_config import PROXY_LOCAL_URL, render_proxy_config

COMPONENT = "tunnel-gateway"
DEFAULT_NAME = "stockade-tunnel"
PROXY_CONTAINER = "mcp-proxy"
CLOUDFLARED_CONTAINER = "cloudflared"
# Loopback only: the readiness endpoint is for the health check inside the task, nobody else.
CLOUDFLARED_METRICS = "localhost:20241"
CLOUDFLARED_BINARY = "/usr/local/bin/cloudflared"
PUBLISHED_PLACEHOLDER = "not yet published by the tunnel setup task"
AWAITING_DOMAIN = (
    "The gateway runs no task until the tunnel has a domain: run tunnelSetupRunTaskCommand once, "
    "read the domain from the publish container's log (stockade: tunnel domain ...), set "
    "stockade:tunnel.tunnelDomain to it and run pulumi up again."
)


class TunnelGatewayArgs(TypedDict):
    """Inputs of a TunnelGateway."""

    tunnel: TunnelArgs
    """The tunnel, as `stockade:tunnel` in a stack file (snake_case); validated by the same rules
    (`tunnel_args` builds it from settings)."""

    vpc_id: pulumi.Input[str]
    """VPC of the private subnets."""

    subnet_ids: pulumi.Input[Sequence[str]]
    """Private subnets, one per AZ; replicas spread over them. No route to an internet gateway."""

    endpoints_security_group_id: pulumi.Input[str] | None
    """Security group of the VPC's interface endpoints (ECR, Secrets Manager, KMS, Logs); None when
    the VPC has none, and then AWS APIs are reached through the NAT on 443."""

    s3_prefix_list_id: pulumi.Input[str] | None
    """Prefix list of the S3 gateway endpoint (ECR image layers); None without one."""

    kms_key_arn: pulumi.Input[str]
    """The stack's customer-managed key: secrets, logs, image mirrors, the alarm topic."""

    account_id: str
    """Account the stack deploys into."""

    region: str
    """Region the stack deploys into."""

    permissions_boundary_arn: str | None
    """Boundary attached to every role, when configured."""

    log_retention_days: int
    """Retention of the gateway's log group."""

    tags: dict[str, str]
    """Stack tags; the component adds `stockade:component = tunnel-gateway`."""

    internet_prefix_list_id: NotRequired[pulumi.Input[str] | None]
    """Prefix list of every public IPv4 address (the network's `public_internet_prefix_list_id`).
    HTTPS to the internet, opened only without VPC endpoints or for public image pulls, then
    targets it instead of 0.0.0.0/0, so private ranges stay closed."""

    cluster_arn: NotRequired[pulumi.Input[str]]
    """Run in this ECS cluster instead of a new one. Its Container Insights must be on for the
    no-running-tasks alarm to see anything."""

    alarm_topic_arn: NotRequired[pulumi.Input[str] | None]
    """The stack's AlarmTopic component. Without it (None), and with alarms enabled,
    the gateway makes a topic of its own for `tunnel.alarms.subscriptions`."""

    protect: NotRequired[bool]
    """Protect the secrets the setup task fills (the tunnel's state, certificate, key and token)
    from deletion (default true: `protect` and `retain_on_delete`); false only to destroy the
    gateway on purpose."""

    name_base: NotRequired[str]
    """First part of every physical name (task families `<name_base>-<stack>-tunnel-...`, alarms,
    image mirrors, metric namespace); default: derived from the component's name
    (aws/shared/naming.py)."""


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-")


def gateway_egress_rules(
    tunnel: TunnelSettings,
    *,
    endpoints_security_group_id: pulumi.Input[str] | None,
    s3_prefix_list_id: pulumi.Input[str] | None,
    https_to_internet: bool,
    internet_prefix_list_id: pulumi.Input[str] | None = None,
) -> list[EgressRule]:
    """Every destination the gateway may reach, and nothing else (docs/vendor-interface.md §2.5)."""
    rules = aws_service_egress(endpoints_security_group_id, s3_prefix_list_id)
    for cidr in CLOUDFLARED_EDGE_CIDRS:
        for protocol in ("tcp", "udp"):
            rules.append(
                EgressRule(
                    key=f"cloudflared-edge-{_slug(cidr)}-{protocol}",
                    description=f"cloudflared to the Cloudflare edge ({protocol.upper()} 7844)",
                    protocol=protocol,
                    from_port=CLOUDFLARED_EDGE_PORT,
                    to_port=CLOUDFLARED_EDGE_PORT,
                    cidr_ipv4=cidr,
                )
            )
    for network, port in tunnel.upstream_targets:
        routes = sorted(
            n for n, r in tunnel.routes.items() if (r.target_cidr, r.upstream.port) == (network, port)
        )
        rules.append(
            EgressRule(
                key=f"upstream-{_slug(str(network))}-{port}",
                description=f"mcp-proxy to its upstream ({', '.join(routes)})"[:255],
                protocol="tcp",
                from_port=port,
                to_port=port,
                cidr_ipv4=str(network),
            )
        )
    if https_to_internet:
        rules.append(https_to_internet_rule(internet_prefix_list_id))
    return rules


def https_to_internet_rule(internet_prefix_list_id: pulumi.Input[str] | None) -> EgressRule:
    return internet_https(
        "HTTPS through the NAT: AWS APIs without VPC endpoints, or public image pulls",
        internet_prefix_list_id,
    )


class TunnelGateway(pulumi.ComponentResource):
    """mcp-proxy and cloudflared on Fargate, replicated across AZs, outbound only."""

    service_name: pulumi.Output[str]
    """The gateway's ECS service."""
    cluster_arn: pulumi.Output[str]
    """The cluster it runs in (given, or the gateway's own)."""
    security_group_id: pulumi.Output[str]
    """The tasks' egress-only security group."""
    log_group_name: pulumi.Output[str]
    """The gateway's log group (both containers, and the setup task)."""
    ca_certificate_pem: pulumi.Output[str] | None
    """The CA to register with Anthropic (generated certificates only)."""
    server_certificate_pem: pulumi.Output[str] | None
    """The server certificate the proxy presents (generated certificates only; public)."""
    server_certificate_expires: pulumi.Output[str] | None
    """When the generated server certificate expires (RFC 3339)."""
    proxy_config: str
    """The rendered config.yaml (not secret; kept out of the task definition, see tunnel_files)."""
    alarm_topic_arn: pulumi.Output[str] | None
    """The topic its alarms publish to; None with alarms off."""
    image_mirrors: dict[str, pulumi.Output[str]]
    """Upstream image -> its ECR mirror's URL (mirrored images only)."""
    setup_run_task_command: pulumi.Output[str] | None
    """The `aws ecs run-task` line that runs the setup task's `init` once (setup enabled)."""
    setup_role_arn: pulumi.Output[str] | None
    """The setup task's role: the `sub` of the WIF federation rule."""
    setup_next_step: str | None
    """Set while the gateway waits at zero tasks for its tunnel domain (setup's first run)."""

    def __init__(
        self, name: str, args: TunnelGatewayArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stockade:aws:TunnelGateway", name, None, opts)
        tunnel = tunnel_settings(name, args["tunnel"])
        self._args = args
        self._naming = naming_for(name, DEFAULT_NAME, args.get("name_base"))
        self._protect_state = args.get("protect", True)
        self._partition = partition_for(args["region"])
        self._tags = with_component(args["tags"], COMPONENT)

        log_group = encrypted_log_group(
            f"{name}-logs",
            kms_key_arn=args["kms_key_arn"],
            retention_days=args["log_retention_days"],
            tags=self._tags,
            parent=self,
        )
        images = resolve_images(
            name,
            self._image_roles(tunnel),
            mirror=tunnel.images.mirror,
            partition=self._partition,
            kms_key_arn=args["kms_key_arn"],
            tags=self._tags,
            parent=self,
            naming=self._naming,
        )
        files, token_arn = self._secrets(name, tunnel)
        group = egress_only_security_group(
            f"{name}-sg",
            vpc_id=args["vpc_id"],
            description="MCP tunnel gateway: no ingress; egress to the edge, route targets and AWS APIs",
            rules=gateway_egress_rules(
                tunnel,
                endpoints_security_group_id=args["endpoints_security_group_id"],
                s3_prefix_list_id=args["s3_prefix_list_id"],
                https_to_internet=args["endpoints_security_group_id"] is None or images.needs_internet,
                internet_prefix_list_id=args.get("internet_prefix_list_id"),
            ),
            tags=self._tags,
            parent=self,
        )
        secret_arns = [*files.arns.values(), token_arn]
        execution_role = role_with_policy(
            f"{name}-execution",
            trust_policy=ecs_tasks_trust_policy(args["account_id"], self._partition, args["region"]),
            statements=execution_statements(
                region=args["region"],
                log_group_arn=log_group.arn,
                secret_arns=secret_arns,
                kms_key_arn=args["kms_key_arn"],
                repository_arns=images.repository_arns,
            ),
            permissions_boundary_arn=args["permissions_boundary_arn"],
            tags=self._tags,
            parent=self,
            description="Pulls the tunnel images, reads its secrets, writes its logs",
        )
        if "cluster_arn" in args:
            cluster_arn = pulumi.Output.from_input(args["cluster_arn"])
            cluster_name = cluster_arn.apply(lambda arn: arn.rsplit("/", 1)[-1])
        else:
            cluster = insights_cluster(f"{name}-cluster", tags=self._tags, parent=self)
            cluster_arn, cluster_name = cluster.arn, cluster.name

        containers = [
            init_container(images.by_role["init"].pull_ref, files),
            self._proxy(images.by_role["proxy"].pull_ref),
            self._cloudflared(images.by_role["cloudflared"].pull_ref, token_arn, tunnel),
        ]
        task = task_definition(
            f"{name}-task",
            TaskSpec(
                family=self._naming.name("tunnel", "gateway"),
                cpu=tunnel.task_cpu,
                memory_mib=tunnel.task_memory_mib,
                containers=containers,
                volumes=[CONFIG_VOLUME, DATA_VOLUME],
            ),
            # No task role: neither container calls an AWS API.
            TaskRuntime(
                execution_role_arn=execution_role.arn, log_group_name=log_group.name, region=args["region"]
            ),
            tags=self._tags,
            parent=self,
        )
        # Never below the running count while replacing: the tunnel stays up through a deploy.
        service = private_service(
            f"{name}-service",
            cluster_arn=cluster_arn,
            task_definition_arn=task.arn,
            desired_count=0 if self._awaiting_domain(tunnel) else tunnel.replicas,
            subnet_ids=args["subnet_ids"],
            security_group_id=group.id,
            tags=self._tags,
            parent=self,
        )
        topic_arn: pulumi.Output[str] | None = None
        if tunnel.alarms.enabled:
            topic_arn = topic_for(
                f"{name}-alarms",
                args.get("alarm_topic_arn"),
                account_id=args["account_id"],
                region=args["region"],
                partition=self._partition,
                purpose="tunnel-alarms",
                subscriptions=[subscription_args(s) for s in tunnel.alarms.subscriptions],
                tags=self._tags,
                parent=self,
                name_base=self._naming.base,
            )
        monitoring = gateway_monitoring(
            f"{name}-health",
            log_group_name=log_group.name,
            cluster_name=cluster_name,
            service_name=service.name,
            alarms=tunnel.alarms,
            topic_arn=topic_arn,
            tags=self._tags,
            parent=self,
            naming=self._naming,
            expect_running=not self._awaiting_domain(tunnel),
        )
        self.setup_next_step = None
        if self._awaiting_domain(tunnel):
            self.setup_next_step = AWAITING_DOMAIN
        self.setup_run_task_command = None
        self.setup_role_arn = None
        if tunnel.setup.enabled:
            from stockade.aws.gateway.setup import SetupContext, setup_tasks

            setup = setup_tasks(
                f"{name}-setup",
                SetupContext(
                    tunnel=tunnel,
                    images=images,
                    cluster_arn=cluster_arn,
                    gateway_service_arn=service.id,
                    gateway_service_name=service.name,
                    published=self._setup_outputs,
                    log_group_name=log_group.name,
                    log_group_arn=log_group.arn,
                    vpc_id=args["vpc_id"],
                    subnet_ids=args["subnet_ids"],
                    endpoints_security_group_id=args["endpoints_security_group_id"],
                    s3_prefix_list_id=args["s3_prefix_list_id"],
                    internet_prefix_list_id=args.get("internet_prefix_list_id"),
                    kms_key_arn=args["kms_key_arn"],
                    account_id=args["account_id"],
                    region=args["region"],
                    partition=self._partition,
                    permissions_boundary_arn=args["permissions_boundary_arn"],
                    tags=self._tags,
                    naming=self._naming,
                    protect=self._protect_state,
                ),
                parent=self,
            )
            self.setup_run_task_command = setup.run_task_command
            self.setup_role_arn = setup.role_arn

        self.service_name = service.name
        self.cluster_arn = cluster_arn
        self.security_group_id = group.id
        self.log_group_name = log_group.name
        self.alarm_topic_arn = monitoring.topic_arn
        self.image_mirrors = images.mirrors()
        self.register_outputs(
            {
                "service_name": self.service_name,
                "cluster_arn": self.cluster_arn,
                "security_group_id": self.security_group_id,
                "log_group_name": self.log_group_name,
                "ca_certificate_pem": self.ca_certificate_pem,
                "alarm_topic_arn": self.alarm_topic_arn,
            }
        )

    def stack_outputs(self) -> dict[str, Any]:
        """What an operator needs after `pulumi up`, under the names the stack exports."""
        outputs: dict[str, Any] = {
            "tunnelServiceName": self.service_name,
            "tunnelClusterArn": self.cluster_arn,
            "tunnelSecurityGroupId": self.security_group_id,
            "tunnelLogGroup": self.log_group_name,
            "tunnelProxyConfig": self.proxy_config,
        }
        optional = {
            "tunnelCaCertificatePem": self.ca_certificate_pem,
            "tunnelServerCertificatePem": self.server_certificate_pem,
            "tunnelServerCertificateExpires": self.server_certificate_expires,
            "tunnelAlarmTopicArn": self.alarm_topic_arn,
            "tunnelImageMirrors": self.image_mirrors or None,
            "tunnelSetupRunTaskCommand": self.setup_run_task_command,
            "tunnelSetupRoleArn": self.setup_role_arn,
            "tunnelSetupNextStep": self.setup_next_step,
        }
        outputs.update({key: value for key, value in optional.items() if value is not None})
        return outputs

    # --- pieces -------------------------------------------------------------------------------

    @staticmethod
    def _awaiting_domain(tunnel: TunnelSettings) -> bool:
        """Setup's first run: bare route names, and no domain until the setup task makes the tunnel.

        The proxy refuses bare names without `tunnel_domain`, so the service runs no task until
        `tunnelDomain` is set, instead of restarting a failing proxy.
        """
        return (
            tunnel.certificates.source is CertificateSource.SETUP
            and tunnel.tunnel_domain is None
            and any("." not in route for route in tunnel.routes)
        )

    @staticmethod
    def _image_roles(tunnel: TunnelSettings) -> dict[str, str]:
        roles = {
            "proxy": tunnel.images.proxy,
            "cloudflared": tunnel.images.cloudflared,
            "init": tunnel.images.init,
        }
        if tunnel.setup.enabled and tunnel.images.aws_cli is not None:
            roles["aws_cli"] = tunnel.images.aws_cli
        return roles

    def _stored(self, name: str, value: pulumi.Input[str], description: str) -> pulumi.Output[str]:
        return stored_secret(
            name,
            value,
            description=description,
            kms_key_arn=self._args["kms_key_arn"],
            tags=self._tags,
            parent=self,
        )

    def _published(self, name: str, description: str) -> pulumi.Output[str]:
        """A secret the setup task fills; Pulumi writes only a placeholder and then leaves it alone."""
        return stored_secret(
            name,
            PUBLISHED_PLACEHOLDER,
            description=description,
            kms_key_arn=self._args["kms_key_arn"],
            tags=self._tags,
            parent=self,
            initial_only=True,
            # Filled by the setup task and never recreated by Pulumi: the tunnel's credentials.
            protect=self._protect_state,
        )

    def _secrets(self, name: str, tunnel: TunnelSettings) -> tuple[FileSecrets, pulumi.Output[str]]:
        """Secrets Manager entries for every file and the token, by certificate source."""
        self.ca_certificate_pem = None
        self.server_certificate_pem = None
        self.server_certificate_expires = None
        self._setup_outputs: dict[str, pulumi.Output[str]] = {}
        config_text = render_proxy_config(tunnel)
        self.proxy_config = config_text
        arns: dict[str, pulumi.Input[str]] = {
            "PROXY_CONFIG": self._stored(f"{name}-proxy-config", config_text, "mcp-proxy config.yaml"),
        }
        upstream_ca = tunnel.upstream_tls.ca_certificate_pem
        if upstream_ca:
            arns["UPSTREAM_CA"] = self._stored(f"{name}-upstream-ca", upstream_ca, "CA of HTTPS upstreams")
        source = tunnel.certificates.source
        certificate: pulumi.Input[str] = ""
        if source is CertificateSource.GENERATED:
            from stockade.tunnel.certificates import TunnelCertificates, dns_names_for

            certs = TunnelCertificates(
                f"{name}-certs",
                {
                    "dns_names": dns_names_for(tunnel.tunnel_domain, tunnel.hostnames),
                    "server_validity_hours": tunnel.certificates.validity_hours,
                    "renew_before_hours": tunnel.certificates.renew_before_hours,
                    "ca_validity_hours": tunnel.certificates.ca_validity_hours,
                    "server_key_algorithm": tunnel.certificates.server_key_algorithm.value,
                },
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.ca_certificate_pem = certs.ca_certificate_pem
            self.server_certificate_pem = certs.server_certificate_pem
            self.server_certificate_expires = certs.server_certificate_expires
            certificate = certs.server_certificate_pem
            arns["TLS_CERT"] = self._stored(f"{name}-tls-cert", certificate, "tunnel server certificate")
            arns["TLS_KEY"] = self._stored(
                f"{name}-tls-key", certs.server_private_key_pem, "tunnel server private key"
            )
        elif source is CertificateSource.PROVIDED:
            certificate = tunnel.certificates.server_certificate_pem or ""
            server_key = secret_field(self._args["tunnel"], "certificates.server_key")
            assert server_key is not None  # enforced by settings
            arns["TLS_CERT"] = self._stored(f"{name}-tls-cert", certificate, "tunnel server certificate")
            arns["TLS_KEY"] = provided_secret_arn(
                f"{name}-tls-key",
                server_key,
                description="tunnel server private key",
                kms_key_arn=self._args["kms_key_arn"],
                tags=self._tags,
                parent=self,
            )
        else:
            self._setup_outputs = {
                "TLS_CERT": self._published(f"{name}-tls-cert", "tunnel server certificate (from setup)"),
                "TLS_KEY": self._published(f"{name}-tls-key", "tunnel server private key (from setup)"),
                "TUNNEL_TOKEN": self._published(f"{name}-token", "tunnel token (from setup)"),
            }
            arns["TLS_CERT"] = self._setup_outputs["TLS_CERT"]
            arns["TLS_KEY"] = self._setup_outputs["TLS_KEY"]
        if source is CertificateSource.SETUP:
            token_arn = self._setup_outputs["TUNNEL_TOKEN"]
        else:
            token = secret_field(self._args["tunnel"], "token")
            assert token is not None  # enforced by settings
            token_arn = provided_secret_arn(
                f"{name}-token",
                token,
                description="MCP tunnel token (TUNNEL_TOKEN)",
                kms_key_arn=self._args["kms_key_arn"],
                tags=self._tags,
                parent=self,
            )
        parts: list[pulumi.Input[str]] = [config_text, certificate, upstream_ca or ""]
        return FileSecrets(arns=arns, fingerprint=fingerprint(*parts)), token_arn

    @staticmethod
    def _proxy(image: pulumi.Input[str]) -> Container:
        return Container(
            name=PROXY_CONTAINER,
            image=image,
            mounts=proxy_mounts(),
            depends_on={INIT_CONTAINER: "SUCCESS"},
        )

    @staticmethod
    def _cloudflared(
        image: pulumi.Input[str], token_arn: pulumi.Input[str], tunnel: TunnelSettings
    ) -> Container:
        # The vendor's command (docs/vendor-interface.md §2.1); --metrics only if the health check needs it.
        metrics = ["--metrics", CLOUDFLARED_METRICS] if tunnel.health_check else []
        command = ["tunnel", "--no-autoupdate", *metrics, "run", "--url", PROXY_LOCAL_URL]
        health_check = None
        if tunnel.health_check:
            health_check = {
                # Exec form: the image is distroless, there is no shell to run CMD-SHELL.
                "command": ["CMD", CLOUDFLARED_BINARY, "tunnel", "--metrics", CLOUDFLARED_METRICS, "ready"],
                "interval": 30,
                "timeout": 10,
                "retries": 3,
                "startPeriod": 60,
            }
        return Container(
            name=CLOUDFLARED_CONTAINER,
            image=image,
            command=command,
            secrets={"TUNNEL_TOKEN": token_arn},
            # Part of the task definition, so a new tokenVersion is a new revision and a rolling deploy.
            environment={"STOCKADE_TOKEN_VERSION": str(tunnel.token_version)},
            depends_on={PROXY_CONTAINER: "START"},
            health_check=health_check,
        )

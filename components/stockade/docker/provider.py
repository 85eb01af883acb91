"""The Docker provider for a stack: the default one, or one built from `stockade:docker`.

Without `docker.host` Stockade uses the default provider, which reads the `docker:host`
config key, then `DOCKER_HOST`, then the local socket; so `DOCKER_HOST=ssh://me@server
pulumi up` works as it does for the docker CLI. With `docker.host` the stack pins its
daemon in the stack file, with the TLS material or SSH options validated beside it.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_docker as docker

from stockade.settings.platform import DockerSettings
from stockade.settings.secrets import PulumiSecret, SecretReference


def secret_output(setting: PulumiSecret | SecretReference | None, key: str) -> pulumi.Output[str]:
    """A secret setting's value, wrapped as a Pulumi secret (never a plain string)."""
    if not isinstance(setting, PulumiSecret) or setting.value is None:
        # Validation refuses ARNs on the docker target; a missing value is a program bug.
        raise ValueError(f"stockade:{key}: the secret's value is not available to the program")
    return pulumi.Output.secret(setting.value)


def docker_provider(name: str, settings: DockerSettings) -> docker.Provider | None:
    """An explicit provider when the stack names its daemon; None keeps the default provider."""
    if settings.host is None:
        return None
    args: dict[str, Any] = {"host": settings.host}
    if settings.ssh_opts:
        args["ssh_opts"] = list(settings.ssh_opts)
    tls = settings.tls
    if tls is not None:
        if tls.cert_path is not None:
            args["cert_path"] = tls.cert_path
        else:
            args["ca_material"] = tls.ca_certificate_pem
            args["cert_material"] = tls.client_certificate_pem
            args["key_material"] = secret_output(tls.client_key, "docker.tls.clientKey")
    return docker.Provider(name, **args)

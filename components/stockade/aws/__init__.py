"""AWS components (pulumi-aws), one package per component family.

- :mod:`stockade.aws.network`: the private VPC and its egress filtering (``Network``).
- :mod:`stockade.aws.fleet`: the sandbox fleet and its images (``SandboxFleet``, ``SandboxImage``).
- :mod:`stockade.aws.gateway`: the MCP tunnel gateway (``TunnelGateway``).
- :mod:`stockade.aws.bridge`: managed-provider orchestrators (``ProviderBridge``).
- :mod:`stockade.aws.shared`: building blocks the others share (IAM, Fargate, secrets, logs,
  ``AlarmTopic``, ``EncryptionKey``).
- :mod:`stockade.aws.perimeter`: composes them from a stack's settings.

Import the package you need; this module loads nothing eagerly.
"""

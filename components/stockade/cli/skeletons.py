"""The commented stack files `stockade init` writes, one per target.

A skeleton holds the safe defaults and leaves empty (YAML null) every value only the user
can supply, each marked `TODO`, so `stockade validate` lists them all as "(not set)" with
the key path and the fix. Secrets are never written: the comment beside each gives the
`pulumi config set --secret` command that prompts for it, so the value goes straight into
the stack's secrets provider. Images are left empty rather than given a made-up digest.
"""

from __future__ import annotations

import re
from enum import StrEnum


class InitTarget(StrEnum):
    AWS = "aws"
    DOCKER = "docker"
    CLOUDFLARE = "cloudflare"


_HEADER = """\
# Stack {stack}: written by `stockade init --target {target}`.
#
# Every line marked TODO is a value only you can supply. Until all are set,
# `stockade validate --stack {stack}` lists each one still missing, with its key and fix.
# Secrets are never written into this file by hand: `pulumi config set --secret` prompts
# for the value and stores it encrypted by the stack's secrets provider. Walkthrough:
# {walkthrough}. Every setting: docs/configuration.md.
"""

_AWS = """\
config:
  aws:region:  # TODO: the region to deploy to, e.g. us-east-2
  stockade:target: aws
  stockade:environment: dev  # dev, staging or prod (prod enforces more: docs/guardrails.md)
  stockade:aws:
    accountId:  # TODO: the 12-digit account to deploy into, quoted, e.g. '012345678901'
  stockade:network:
    cidr: 10.40.0.0/16  # a /16 that overlaps nothing you peer or route to
    availabilityZones: 2
    egress:
      mode: filtered
      # Domains your sessions' tools need (package indexes, Git hosts); nothing else is reachable.
      allowedDomains: []
  stockade:sandboxes:
    environmentId:  # TODO: env_... of a self_hosted environment (Console, or POST /v1/environments)
    # TODO (secret) sandboxes.environmentKey: generate it in the Console, then run
    #   pulumi config set --stack {stack} --secret --path 'stockade:sandboxes.environmentKey'
    # The two images, mirrored into this account's ECR and pinned by digest
    # (docs/aws-quickstart.md, "Mirror the images"):
    sessionImage:  # TODO: <account>.dkr.ecr.<region>.amazonaws.com/stockade-session@sha256:<digest>
    workerImage:  # TODO: <account>.dkr.ecr.<region>.amazonaws.com/stockade-poller@sha256:<digest>
    maxConcurrentSessions: 5
  stockade:tunnel:
    # The MCP tunnel (research preview) is off; docs/tunnel-gateway.md turns it on.
    enabled: false
  stockade:tags:
    owner:  # TODO: the team that owns this stack
"""

_DOCKER = """\
config:
  stockade:target: docker
  stockade:environment: dev
  stockade:docker:
    runtime: runc  # runsc (gVisor) isolates more where it is installed
    # The group that owns the Docker socket as the daemon mounts it; print it with
    #   docker run --rm -v /var/run/docker.sock:/s:ro busybox stat -c %g /s
    socketGroupId:  # TODO: that group ID
    sandboxSubnet: 10.213.0.0/22
  stockade:network:
    egress:
      mode: filtered
      # Domains your sessions' tools need (package indexes, Git hosts); nothing else is reachable.
      allowedDomains: []
  stockade:sandboxes:
    mode: per-session
    environmentId:  # TODO: env_... of a self_hosted environment (Console, or POST /v1/environments)
    # TODO (secret) sandboxes.environmentKey: generate it in the Console, then run
    #   pulumi config set --stack {stack} --secret --path 'stockade:sandboxes.environmentKey'
    # The two images, built from this checkout (docs/quickstart.md, step 3). Local tags
    # are accepted on a dev stack; a shared host should pin digests.
    sessionImage:  # TODO: e.g. stockade-session:local
    workerImage:  # TODO: e.g. stockade-poller:local
    maxConcurrentSessions: 3
  stockade:tunnel:
    # The MCP tunnel (research preview) is off; docs/quickstart.md, step 4, turns it on.
    enabled: false
  stockade:tags:
    owner:  # TODO: the team or person that owns this stack
"""

_CLOUDFLARE = """\
# Before `pulumi up`, the Cloudflare provider needs its own token (prompted for, stored encrypted):
#   pulumi config set --stack {stack} --secret cloudflare:apiToken
config:
  stockade:target: cloudflare
  stockade:environment: dev
  stockade:sandboxes:
    provider: cloudflare
    environmentId:  # TODO: env_... of a self_hosted environment (Console, or POST /v1/environments)
    # TODO (secret) sandboxes.environmentKey: generate it in the Console, then run
    #   pulumi config set --stack {stack} --secret --path 'stockade:sandboxes.environmentKey'
    cloudflare:
      accountId:  # TODO: the 32-character Cloudflare account ID
      workerName: {worker}
      bundle:
        mainModule:  # TODO: path of your built Worker template's entry module, e.g. dist/index.js
      # TODO (secret) sandboxes.cloudflare.webhookSecret: the whsec_... signing secret, then run
      #   pulumi config set --stack {stack} --secret --path 'stockade:sandboxes.cloudflare.webhookSecret'
      # The template also needs an organization API key, which Stockade reports as a weakening
      # (docs/providers.md explains the trade):
      # TODO (secret) sandboxes.cloudflare.anthropicApiKey: an organization API key, then run
      #   pulumi config set --stack {stack} --secret --path 'stockade:sandboxes.cloudflare.anthropicApiKey'
      # The webhook is served on workers.dev (or set customDomain instead: docs/providers.md).
      workersDevSubdomain:  # TODO: your account's workers.dev subdomain (Workers & Pages -> Overview)
      # The template's dashboard and API sit behind Cloudflare Access (docs/providers.md, Access):
      access:
        teamDomain:  # TODO: your Access team domain, e.g. acme.cloudflareaccess.com
        aud:  # TODO: the Access application's 64-hex audience tag
      egress:
        allow:
          - api.anthropic.com
"""

_BODIES = {InitTarget.AWS: _AWS, InitTarget.DOCKER: _DOCKER, InitTarget.CLOUDFLARE: _CLOUDFLARE}
_WALKTHROUGHS = {
    InitTarget.AWS: "docs/aws-quickstart.md",
    InitTarget.DOCKER: "docs/quickstart.md",
    InitTarget.CLOUDFLARE: "docs/providers.md",
}


_KEY = re.compile(r"([A-Za-z0-9_-]+(?::[A-Za-z0-9_.-]+)?):(?:\s|$)")
_SECRET_TODO = "# TODO (secret) "  # noqa: S105 (a comment marker)


def todos(text: str) -> list[str]:
    """Each TODO of a skeleton as `key: what to supply`, keys written as `stockade validate` names them."""
    found: list[str] = []
    path: list[tuple[int, str]] = []
    lines = text.splitlines()
    for number, line in enumerate(lines):
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if stripped.startswith(_SECRET_TODO):
            key, _, what = stripped[len(_SECRET_TODO) :].partition(": ")
            command = lines[number + 1].strip().lstrip("# ") if number + 1 < len(lines) else ""
            found.append(f"stockade:{key} (secret): {what.removesuffix(', then run')}; {command}")
            continue
        match = _KEY.match(stripped)
        if match is None:
            continue
        path = [(i, k) for i, k in path if i < indent] + [(indent, match.group(1))]
        if "# TODO" in line:
            keys = [k for _, k in path if k != "config"]
            found.append(
                f"{keys[0]}{''.join('.' + k for k in keys[1:])}: {line.split('# TODO', 1)[1].lstrip(': ')}"
            )
    return found


def skeleton(stack: str, target: InitTarget) -> str:
    """The stack file text for a new stack on `target`."""
    worker = f"claude-managed-agents-{stack.lower().replace('_', '-').replace('.', '-')}"[:63].strip("-")
    header = _HEADER.format(stack=stack, target=target.value, walkthrough=_WALKTHROUGHS[target])
    return header + _BODIES[target].format(stack=stack, worker=worker)

"""What the Docker fleet component and the dispatcher's broker and client agree on: names only.

The component (stockade.docker.sandbox_fleet) sets these variables and paths; the broker
and client read them. They live apart from the broker and client so that provisioning, which
runs in every `stockade synth` of a Docker stack, does not import an HTTP server and client
it never runs (a fiftieth of that synth).
"""

SESSIONS_PATH = "/v1/sessions"
HEALTH_PATH = "/healthz"
DEFAULT_PORT = 8080

# The environment the fleet component sets on the broker (docs/docker-host.md lists it).
ENV_STACK = "STOCKADE_STACK"
ENV_DOCKER_ENDPOINT = "STOCKADE_DOCKER_ENDPOINT"
ENV_LISTEN_PORT = "STOCKADE_LISTEN_PORT"
ENV_SESSION_IMAGE = "STOCKADE_SESSION_IMAGE"
ENV_SANDBOX_NETWORK = "STOCKADE_SANDBOX_NETWORK"
ENV_SANDBOX_RUNTIME = "STOCKADE_SANDBOX_RUNTIME"
ENV_NANO_CPUS = "STOCKADE_SANDBOX_NANO_CPUS"
ENV_MEMORY_MIB = "STOCKADE_SANDBOX_MEMORY_MIB"
ENV_PIDS_LIMIT = "STOCKADE_SANDBOX_PIDS_LIMIT"
ENV_TMP_MIB = "STOCKADE_SANDBOX_TMP_MIB"
ENV_MAX_CONCURRENT = "STOCKADE_MAX_CONCURRENT_SESSIONS"
ENV_EGRESS_PROXY = "STOCKADE_EGRESS_PROXY_URL"
ENV_KEEP_WORKSPACES = "STOCKADE_KEEP_WORKSPACES"
ENV_LABELS = "STOCKADE_SANDBOX_LABELS"
ENV_REAP_INTERVAL = "STOCKADE_REAP_INTERVAL_SECONDS"
ENV_ENVIRONMENT_ID = "ANTHROPIC_ENVIRONMENT_ID"
ENV_API_PROXY = "STOCKADE_API_PROXY_ENABLED"
ENV_API_PROXY_UPSTREAM = "STOCKADE_API_PROXY_UPSTREAM"
ENV_API_PROXY_CA_BUNDLE = "STOCKADE_API_PROXY_CA_BUNDLE"

# The environment the fleet component sets on the poller, for the client.
ENV_BROKER_URL = "STOCKADE_BROKER_URL"
ENV_WAIT_SECONDS = "STOCKADE_DISPATCH_WAIT_SECONDS"

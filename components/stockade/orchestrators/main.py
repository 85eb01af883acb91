"""`stockade-orchestrator --provider daytona|modal`: the ProviderBridge container's command.

Exit codes are the dispatchers' (stockade.workqueue.errors): 2 for bad configuration, 1 for
anything unexpected, 0 after a SIGTERM-driven shutdown. Logs are JSON lines on stderr,
scrubbed of the environment key, the provider credential and every work secret seen.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from typing import TextIO

from stockade.dispatcher.logs import Redactor, configure, emit
from stockade.orchestrators.config import OrchestratorConfig
from stockade.orchestrators.core import Orchestrator
from stockade.orchestrators.provider import SandboxProvider
from stockade.orchestrators.queue import QueueClient
from stockade.workqueue.errors import EXIT_FAILED, EXIT_OK, ConfigError, DispatchError

PROGRAM = "stockade-orchestrator"
PROVIDERS = ("daytona", "modal")
# Credentials the provider SDKs read from the environment: registered with the redactor.
_SECRET_VARIABLES = ("ANTHROPIC_ENVIRONMENT_KEY", "DAYTONA_API_KEY", "MODAL_TOKEN_SECRET")
log = logging.getLogger("stockade.orchestrators")

ProviderFactory = Callable[[str, OrchestratorConfig, Mapping[str, str]], SandboxProvider]


def make_provider(name: str, config: OrchestratorConfig, environ: Mapping[str, str]) -> SandboxProvider:
    if name == "daytona":
        from stockade.orchestrators.daytona_adapter import DaytonaProvider

        return DaytonaProvider.from_environ(config, environ)
    if name == "modal":
        from stockade.orchestrators.modal_adapter import ModalProvider

        return ModalProvider.from_environ(config, environ)
    raise ConfigError(f"--provider must be one of {', '.join(PROVIDERS)}")


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    stderr: TextIO | None = None,
    provider_factory: ProviderFactory | None = None,
    install_signals: bool = True,
) -> int:
    parser = argparse.ArgumentParser(prog=PROGRAM, description="Run one sandbox per work item on a provider.")
    parser.add_argument("--provider", choices=PROVIDERS, required=True)
    arguments = parser.parse_args(argv)
    environ = os.environ if environ is None else environ
    redactor = Redactor()
    for name in _SECRET_VARIABLES:
        redactor.add(environ.get(name, ""))
    configure(PROGRAM, redactor, stderr)
    try:
        config = OrchestratorConfig.from_environ(environ)
        provider = (provider_factory or make_provider)(arguments.provider, config, environ)
        queue = QueueClient(
            environment_id=config.environment_id,
            environment_key=config.environment_key,
            worker_id=config.worker_id,
            base_url=config.base_url,
            timeout=config.call_timeout,
        )
        # Work secrets of sessions long gone need not be scrubbed for ever; live ones always are.
        redactor.limit_recent(max(256, 4 * config.max_concurrent))
        orchestrator = Orchestrator(config, queue, provider, on_secret=redactor.add_recent)
        if install_signals:
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: orchestrator.request_stop())
        orchestrator.run()
        return EXIT_OK
    except DispatchError as exc:
        emit(log, logging.ERROR, exc.event, error=str(exc), exit_code=exc.exit_code)
        return exc.exit_code
    except Exception:
        log.exception("orchestrator.crashed")
        return EXIT_FAILED

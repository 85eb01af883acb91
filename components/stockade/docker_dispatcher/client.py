"""`stockade-docker-dispatch`: the `--on-work` handler in the poller container.

`ant beta:worker poll --on-work /usr/local/bin/stockade-docker-dispatch` runs it once per
claimed work item (identifiers in ANTHROPIC_* variables, the item's JSON on stdin). It:

1. builds the session request from the item (exit 2 if the item is malformed);
2. sends it to the dispatch broker (STOCKADE_BROKER_URL) on the internal dispatch network;
3. while the broker answers 429 (every slot taken) or cannot be reached, waits and retries,
   for at most STOCKADE_DISPATCH_WAIT_SECONDS (exit 3 when slots stay taken, 4 when the
   broker stays unreachable or fails);
4. exits 0 once the sandbox has started (or was already running for this item).

It never touches Docker, and it logs IDs and outcomes only: never the work secret.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TextIO

from stockade.docker_dispatcher.contract import ENV_BROKER_URL, ENV_WAIT_SECONDS, SESSIONS_PATH
from stockade.docker_dispatcher.work import SessionRequest, from_work_item
from stockade.workqueue import env
from stockade.workqueue.errors import (
    EXIT_OK,
    DispatchError,
    LaunchError,
    NoSlotError,
    WorkItemError,
)

log = logging.getLogger("stockade.docker_dispatcher")

_BROKER_URL = re.compile(r"^http://(?P<host>[A-Za-z0-9.-]{1,253}):(?P<port>\d{1,5})$")
_REQUEST_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class ClientConfig:
    broker_host: str
    broker_port: int
    wait_seconds: float
    retry_interval: float = 2.0
    max_retry_interval: float = 15.0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ClientConfig:
        url = env.matching(environ, ENV_BROKER_URL, _BROKER_URL, "http://host:port")
        match = _BROKER_URL.fullmatch(url)
        assert match is not None  # checked just above
        return cls(
            broker_host=match["host"],
            broker_port=int(match["port"]),
            wait_seconds=float(env.integer(environ, ENV_WAIT_SECONDS, 600, 1, 86_400)),
        )


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, object]


def post_session(config: ClientConfig, request: SessionRequest) -> Answer:
    """One request to the broker; connection failures raise OSError or HTTPException."""
    connection = http.client.HTTPConnection(
        config.broker_host, config.broker_port, timeout=_REQUEST_TIMEOUT_SECONDS
    )
    try:
        connection.request(
            "POST", SESSIONS_PATH, body=request.to_json(), headers={"Content-Type": "application/json"}
        )
        response = connection.getresponse()
        raw = response.read()
        status = response.status
    finally:
        connection.close()
    try:
        body = json.loads(raw)
    except ValueError:
        body = {}
    return Answer(status, body if isinstance(body, dict) else {})


def dispatch(
    request: SessionRequest,
    config: ClientConfig,
    *,
    post: Callable[[ClientConfig, SessionRequest], Answer] = post_session,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Answer:
    """Hand the request to the broker, waiting (bounded) through 429s and outages."""
    deadline = clock() + config.wait_seconds
    interval = config.retry_interval
    last_problem = "no attempt made"
    at_capacity = False
    while True:
        try:
            answer = post(config, request)
        except (OSError, http.client.HTTPException) as exc:
            last_problem, at_capacity = f"broker unreachable ({type(exc).__name__})", False
        else:
            if answer.status in (200, 201):
                return answer
            message = str(answer.body.get("error", ""))[:300]
            if answer.status == 400:
                raise WorkItemError(f"the broker refused the request: {message}")
            last_problem = f"broker answered {answer.status}: {message}"
            at_capacity = answer.status == 429
            if answer.status not in (429, 502, 503, 504):
                raise LaunchError(last_problem)
        remaining = deadline - clock()
        if remaining <= 0:
            break
        _event("dispatch.waiting", workId=request.work_id, reason=last_problem)
        sleep(min(interval, remaining))
        interval = min(interval * 2, config.max_retry_interval)
    waited = f"after {config.wait_seconds:g} s"
    if at_capacity:
        raise NoSlotError(f"no sandbox slot freed up {waited} ({last_problem})")
    raise LaunchError(f"the sandbox was not started {waited}: {last_problem}")


def _event(event: str, **fields: object) -> None:
    log.info(json.dumps({"event": event, **fields}, sort_keys=True))


def main(stdin: TextIO | None = None, environ: Mapping[str, str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    environ = os.environ if environ is None else environ
    try:
        config = ClientConfig.from_environ(environ)
        request = from_work_item((stdin or sys.stdin).read(), environ)
        answer = dispatch(request, config)
    except DispatchError as exc:
        _event("dispatch.failed", error=str(exc), exitCode=exc.exit_code)
        return exc.exit_code
    _event(
        "dispatch.done",
        workId=request.work_id,
        sessionId=request.session_id,
        container=answer.body.get("container"),
        existing=answer.body.get("existing"),
    )
    return EXIT_OK

#!/bin/sh
# The --on-work handler the poller runs once per work item. Copy it to
# /usr/local/bin/stockade-docker-dispatch in the worker image (docs/docker-host.md).
exec python3 -m stockade.docker_dispatcher "$@"

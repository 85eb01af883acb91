"""Per-session dispatch for Stockade's Docker sandbox fleet (runtime programs, not Pulumi components).

Two programs, both in the worker image:

* `python3 -m stockade.docker_dispatcher` (via `/usr/local/bin/stockade-docker-dispatch`) is the
  `--on-work` handler `ant beta:worker poll` runs once per claimed work item. It holds no Docker
  access at all: it hands the item to the broker over the internal dispatch network.
* `python3 -m stockade.docker_dispatcher.broker` is the dispatch broker. It alone reaches the Docker
  Engine API, and only through a socket proxy that passes container endpoints. It builds every
  sandbox's container spec itself from its own configuration, so the poller cannot ask for a
  privileged container, a host mount or another image.

This package imports only the standard library and stockade.workqueue (the stdlib-only pieces
it shares with the AWS dispatcher), never pulumi, pydantic or another stockade module, so an
image can copy `stockade/__init__.py`, this directory and `stockade/workqueue/` onto
PYTHONPATH. tests/test_docker_dispatcher.py enforces it. docs/docker-host.md describes the
contract.
"""

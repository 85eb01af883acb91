"""Per-session dispatch for Stockade's AWS sandbox fleet (a runtime program, not a Pulumi component).

`ant beta:worker poll --on-work /usr/local/bin/stockade-dispatch` runs this package once per
claimed work item; it starts one isolated Fargate task for the session. `session_entry` is the
sandbox's entrypoint and `queue_stats` publishes the work queue's statistics to CloudWatch.

This package imports only the standard library, boto3 and stockade.workqueue (the stdlib-only
pieces it shares with the Docker-host dispatcher), never pulumi, pydantic or another stockade
module: the poller and session images copy just `stockade/__init__.py`, this directory and
`stockade/workqueue/` onto PYTHONPATH. tests/test_dispatcher.py enforces the imports and
tests/test_images.py the copies.
"""

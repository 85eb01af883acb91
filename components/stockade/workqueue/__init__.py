"""What both per-session dispatchers share: the work item, the environment readers, the exit codes.

`ant beta:worker poll --on-work ...` hands each claimed work item to a dispatcher: the AWS one
(stockade.dispatcher, which starts a Fargate task) or the Docker-host one
(stockade.docker_dispatcher, which asks its broker for a container). They parse and check the
item, read their configuration and report failures the same way, so that code lives here once.

This package imports only the standard library (never boto3, pulumi, pydantic or another
stockade module): the images copy it next to the dispatcher packages, which import nothing
else from stockade. tests/test_workqueue.py, tests/test_dispatcher.py and
tests/test_docker_dispatcher.py enforce it; tests/test_images.py checks the images copy it.
"""

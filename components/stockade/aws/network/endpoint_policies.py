"""VPC endpoint policies: what may be called through each endpoint, and by whom.

An endpoint with private DNS carries every call to that service from the VPC, so
without a policy a sandbox holding someone else's credentials could, for example,
write data into a Secrets Manager secret in another account. Each interface
endpoint therefore allows only the actions Stockade's workloads use, and only for
principals of this account; the S3 gateway allows ECR's layer bucket and this
account's buckets. Pure data: `check_statements` sees every statement.
"""

from __future__ import annotations

from typing import Any

from stockade.aws.shared.iam import Statement, check_statements

ENDPOINT_ACTIONS: dict[str, tuple[str, ...]] = {
    "ecr.api": (
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetAuthorizationToken",
        "ecr:GetDownloadUrlForLayer",
    ),
    "ecr.dkr": ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"),
    # The dispatcher's calls (dispatcher contract) and the tunnel setup task rolling the gateway
    # (aws/gateway/setup.py); ECS Exec is opened from outside the VPC.
    "ecs": ("ecs:DescribeTasks", "ecs:ListTasks", "ecs:RunTask", "ecs:TagResource", "ecs:UpdateService"),
    "logs": ("logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"),
    "secretsmanager": (
        "secretsmanager:CreateSecret",
        "secretsmanager:DeleteSecret",
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
        "secretsmanager:ListSecrets",
        # The tunnel setup task publishes its state, certificate, key and token.
        "secretsmanager:PutSecretValue",
        # The dispatcher scopes each work secret to the one task that may read it.
        "secretsmanager:PutResourcePolicy",
        "secretsmanager:TagResource",
    ),
    "kms": ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"),
    # GetWebIdentityToken: the tunnel's setup task authenticates with WIF (docs/vendor-interface.md §2.4).
    "sts": ("sts:AssumeRole", "sts:GetCallerIdentity", "sts:GetWebIdentityToken"),
    "monitoring": ("cloudwatch:PutMetricData",),
    "ssmmessages": (
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
    ),
}

S3_ACTIONS = (
    "s3:AbortMultipartUpload",
    "s3:GetBucketLocation",
    "s3:GetObject",
    "s3:ListBucket",
    "s3:PutObject",
)


def _document(statements: list[Statement]) -> dict[str, Any]:
    check_statements(statements)
    return {"Version": "2012-10-17", "Statement": statements}


def interface_endpoint_policy(service: str, account_id: str) -> dict[str, Any]:
    """Only this account's principals, only the actions Stockade uses."""
    if service not in ENDPOINT_ACTIONS:
        raise KeyError(f"no endpoint policy for {service!r}; add its actions to ENDPOINT_ACTIONS")
    return _document(
        [
            {
                "Sid": "StockadeWorkloadsOfThisAccount",
                "Effect": "Allow",
                "Principal": "*",
                "Action": list(ENDPOINT_ACTIONS[service]),
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:PrincipalAccount": account_id}},
            }
        ]
    )


def s3_gateway_policy(account_id: str, partition: str, region: str) -> dict[str, Any]:
    """ECR's layer bucket (image pulls) and this account's buckets; no other account's bucket."""
    return _document(
        [
            {
                "Sid": "EcrImageLayers",
                "Effect": "Allow",
                "Principal": "*",
                "Action": ["s3:GetObject"],
                "Resource": [f"arn:{partition}:s3:::prod-{region}-starport-layer-bucket/*"],
            },
            {
                "Sid": "BucketsOfThisAccount",
                "Effect": "Allow",
                "Principal": "*",
                "Action": list(S3_ACTIONS),
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:PrincipalAccount": account_id, "aws:ResourceAccount": account_id}
                },
            },
        ]
    )

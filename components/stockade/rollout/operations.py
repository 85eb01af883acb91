"""The operations a rollout runs on every stack, and the Pulumi command behind each."""

from __future__ import annotations

from enum import StrEnum


class Operation(StrEnum):
    PREVIEW = "preview"
    """`pulumi preview --json`: what would change. Creates the stack in the backend if missing."""

    UP = "up"
    """`pulumi up --yes --skip-preview`: apply the program."""

    DRIFT = "drift"
    """`pulumi refresh --preview-only`: what the cloud changed behind Pulumi's back."""

    DESTROY = "destroy"
    """`pulumi destroy --yes --skip-preview`: delete every resource (guarded by confirmations)."""

    @property
    def changes_cloud(self) -> bool:
        return self in (Operation.UP, Operation.DESTROY)

    @property
    def creates_missing_stack(self) -> bool:
        # Previewing or deploying a new stack is normal; refreshing or destroying one that
        # does not exist is a mistake in the plan and must fail loudly.
        return self in (Operation.PREVIEW, Operation.UP)

    @property
    def command(self) -> str:
        return {
            Operation.PREVIEW: "pulumi preview --json",
            Operation.UP: "pulumi up --yes --skip-preview",
            Operation.DRIFT: "pulumi refresh --preview-only",
            Operation.DESTROY: "pulumi destroy --yes --skip-preview",
        }[self]

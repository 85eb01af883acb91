"""Stateful resources: protected by default, because losing them loses data or identity.

`protect` makes `pulumi destroy` (and any refactor that would replace the resource) stop
with an error instead of deleting; `retain_on_delete` leaves the cloud resource in place
even once protection is lifted, so an unintended delete only forgets it in state.
docs/runbooks/destroy-an-environment.md is the deliberate way out.
"""

from __future__ import annotations

import pulumi


def stateful(parent: pulumi.Resource, protect: bool, **options: object) -> pulumi.ResourceOptions:
    """Options of a child whose loss loses data or identity; `protect=False` only on purpose
    (the `aws.protectStatefulResources: false` setting, reported as a weakening)."""
    return pulumi.ResourceOptions(
        parent=parent,
        protect=protect,
        retain_on_delete=protect,
        **options,  # type: ignore[arg-type]
    )

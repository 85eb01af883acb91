"""Guardrails: the perimeter's invariants checked before, at and after deploy.

* `rules/`: the policy rules, written once against pulumi_policy's types.
* `pack`: turns the rules into CrossGuard policies (the `policy/` pack and the
  offline runner both use it, so the two cannot disagree).
* `offline`: runs those policies over an offline synth (`stockade policy`).
* `facts`: the stack facts rules need, derived from `StackSettings` in one place.
* `audit/`: boto3 checks of a deployed account (`stockade audit`).
* `bootstrap`: the per-account state backend (`stockade bootstrap`).

Importing this package is cheap; pulumi_policy, boto3 and provider SDKs load in
the submodules that need them.
"""

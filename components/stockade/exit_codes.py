"""The exit codes of every `stockade` command, in one place (README.md, "Exit codes").

- 0: done, nothing wrong found;
- 1: an internal error only, that is, a bug in Stockade;
- 2: bad input or usage (a stack file, an argument, a missing file, refused credentials);
- 3: the command ran and what it checked or ran failed (a risky change, a mandatory policy
  violation, an audit finding, stale generated docs, a rollout stack that failed);
- 130: interrupted (Ctrl-C), as a shell reports it.

Library reports (policy, audit, rollout) return these so the CLI passes them through unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_INVALID = 2
EXIT_RISK = 3
EXIT_INTERRUPTED = 130

# When several stacks are checked at once, the exit code is the most telling outcome:
# an internal error hides nothing, then bad input (a stack that could not be checked),
# then a failed check.
_PRECEDENCE = (EXIT_INTERNAL, EXIT_INVALID, EXIT_RISK, EXIT_INTERRUPTED, EXIT_OK)


def combined_exit(codes: Iterable[int]) -> int:
    """One exit code for several outcomes."""
    seen = set(codes)
    return next((code for code in _PRECEDENCE if code in seen), EXIT_OK)

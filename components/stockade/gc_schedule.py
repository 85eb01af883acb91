"""When the cyclic garbage collector runs in Stockade's short-lived processes.

A synth imports the provider SDKs and registers every resource: hundreds of thousands of
objects that live until the process exits. On Python's default schedule the collector
walks all of them again every time enough new objects pile up; measured on `prod-use1`,
that was a fifth of a synth's CPU (benchmarks/bench_synth.py). So:

* a command that ends in seconds turns the collector off when it starts (`pause`);
* a loop that synthesizes stack after stack calls `between_stacks` after each one: the
  first call freezes what is there (modules, caches, one stack's leftovers: a few MiB the
  collector will never look at again), every later one collects what that stack left, and
  only that, so memory stays flat however many stacks a diff or a bootstrap synthesizes;
* a command that runs for minutes or hours (`rollout`) keeps the default schedule, and so
  does any process that did not call `pause` (tests, the Pulumi language host);
* a short command ends with `exit_without_teardown`: everything Python does at exit (exit
  handlers, flushing) but freeing, one by one, the objects the process is about to hand back
  to the OS anyway. That teardown was a quarter of a `prod-use1` synth's CPU.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import sys
import threading

_frozen = False


def pause() -> None:
    """No automatic collection for the rest of this (short-lived) process."""
    gc.disable()


def between_stacks() -> None:
    """Reclaim what the last stack left, cheaply; a no-op where the collector runs on its own."""
    global _frozen
    if gc.isenabled():
        return
    if not _frozen:
        gc.freeze()
        _frozen = True
        return
    gc.collect()


def exit_without_teardown(code: int) -> None:
    """Exit with `code` as soon as exit handlers have run and output is flushed.

    Python's normal exit frees every module and object first; for a process that loaded the
    provider SDKs that costs hundreds of milliseconds and changes nothing anyone can observe.
    Where another thread is still alive, exit normally: only the usual exit waits for it.
    """
    if threading.active_count() > 1:
        sys.exit(code)
    atexit._run_exitfuncs()  # what the normal exit runs: logging's flush, coverage's save, ...
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe or stream: nothing more can reach it, as at a normal exit.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)

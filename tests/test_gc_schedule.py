"""The collector's schedule: off for short commands, default for long ones, flat memory in loops.

Each case runs in its own interpreter: turning the collector off or freezing objects in
the test process would change every later test.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

COMPONENTS = Path(__file__).resolve().parents[1] / "components"


def _python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(COMPONENTS), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    return done.stdout.strip()


@pytest.mark.parametrize(
    ("command", "collector_on"),
    [("validate", False), ("synth", False), ("diff", False), ("rollout", True)],
)
def test_main_pauses_the_collector_only_for_short_commands(command: str, collector_on: bool) -> None:
    seen = _python(
        f"""
        import gc, sys
        from stockade.cli import app
        app.run = lambda argv=None: print(gc.isenabled()) or 0
        sys.argv = ["stockade", "{command}", "--help"]
        try:
            app.main()
        except SystemExit:
            pass
        """
    )
    assert seen == str(collector_on)


@pytest.mark.parametrize(("command", "torn_down"), [("validate", False), ("synth", False), ("rollout", True)])
def test_short_commands_exit_without_tearing_the_interpreter_down(command: str, torn_down: bool) -> None:
    # An object's __del__ runs during the normal teardown only: its line shows which exit was taken.
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import atexit, sys
                from stockade.cli import app

                class Held:
                    def __del__(self):
                        print("torn down")

                held = Held()
                atexit.register(print, "exit handler ran")
                app.run = lambda argv=None: print("ran", end="") or 7
                sys.argv = ["stockade", "{command}"]
                app.main()
                """
            ),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(COMPONENTS), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 7
    assert done.stdout.startswith("ran"), "output written without a newline must still be flushed"
    assert "exit handler ran" in done.stdout
    assert ("torn down" in done.stdout) is torn_down


def test_exit_without_teardown_runs_exit_handlers_and_waits_for_live_threads() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import atexit, threading, time
                from stockade import gc_schedule

                atexit.register(print, "exit handler ran")
                def late():
                    time.sleep(0.2)
                    print("thread finished")
                threading.Thread(target=late).start()
                gc_schedule.exit_without_teardown(3)
                """
            ),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(COMPONENTS), "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 3
    assert out.stdout.splitlines() == ["thread finished", "exit handler ran"]


def test_between_stacks_freezes_once_then_collects_what_each_stack_left() -> None:
    out = _python(
        """
        import gc, weakref
        from stockade import gc_schedule

        class Node:
            pass

        def garbage_cycle():
            a, b = Node(), Node()
            a.other, b.other = b, a
            return weakref.ref(a)

        gc_schedule.pause()
        first = garbage_cycle()
        gc_schedule.between_stacks()          # freezes: the first stack's leftovers stay
        frozen = gc.get_freeze_count()
        second = garbage_cycle()
        gc_schedule.between_stacks()          # collects what came after the freeze
        print(frozen > 0, first() is not None, second() is None, gc.isenabled())
        """
    )
    assert out == "True True True False"


def test_between_stacks_leaves_a_running_collector_alone() -> None:
    out = _python(
        """
        import gc
        from stockade import gc_schedule
        gc_schedule.between_stacks()
        gc_schedule.between_stacks()
        print(gc.get_freeze_count(), gc.isenabled())
        """
    )
    assert out == "0 True"


@pytest.mark.parametrize(
    ("command", "given", "seen"),
    [("synth", None, "__all__"), ("validate", "my_plugin", "my_plugin"), ("rollout", None, "None")],
)
def test_short_commands_load_no_pydantic_plugins_unless_told(
    command: str, given: str | None, seen: str
) -> None:
    env = {"PYTHONPATH": str(COMPONENTS), "PATH": "/usr/bin:/bin"}
    if given is not None:
        env["PYDANTIC_DISABLE_PLUGINS"] = given
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import os, sys
                from stockade.cli import app
                app.run = lambda argv=None: print(os.environ.get("PYDANTIC_DISABLE_PLUGINS")) or 0
                sys.argv = ["stockade", "{command}"]
                app.main()
                """
            ),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.stdout.strip() == seen, done.stderr

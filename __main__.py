"""The Pulumi program: read this stack's settings, then compose the components."""

from stockade.program import run

run()

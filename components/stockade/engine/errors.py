"""The offline engine's error types, apart from the engine so callers can catch them cheaply."""


class SynthError(Exception):
    """The program failed under the offline engine; the message says why and where."""


class SynthInputError(SynthError):
    """The checkout itself is incomplete (no Pulumi.yaml, no program): the user's to fix."""

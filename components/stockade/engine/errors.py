"""The offline engine's one error type, apart from the engine so callers can catch it cheaply."""


class SynthError(Exception):
    """The program failed under the offline engine; the message says why and where."""

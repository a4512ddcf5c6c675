"""The one way the demo refuses to start."""


class DemoError(Exception):
    """The demo cannot start; the message says why in one line."""

"""The ``upload-signer`` command: storage, dev, check, gc, and the dev page server."""

from .main import main

__all__ = ["main"]

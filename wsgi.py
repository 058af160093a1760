"""WSGI entry point: ``gunicorn -c gunicorn.conf.py wsgi:app``."""

import sys

from app import create_app
from app.settings.parsers import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    # One clear line instead of a traceback; gunicorn.conf.py checks the same before forking.
    sys.exit(f"upload-signer: configuration error: {exc}")

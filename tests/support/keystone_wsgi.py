"""Keystone's WSGI application for gunicorn (``tests.support.keystone_wsgi:application``).

oslo.config parses ``sys.argv`` when Keystone loads its configuration; under gunicorn that is
gunicorn's command line, which it refuses ("unrecognized arguments") and the worker exits, again
and again. Keystone gets an empty command line; its files come from ``OS_KEYSTONE_CONFIG_DIR``.
"""

from __future__ import annotations

import sys

_argv, sys.argv = sys.argv, sys.argv[:1]
try:
    from keystone.server import wsgi

    application = wsgi.initialize_public_application()
finally:
    sys.argv = _argv

"""gunicorn settings, all overridable from the environment (``GUNICORN_CMD_ARGS`` too)."""

import multiprocessing
import os
import sys

from app.config import ConfigError, Settings

# Check the configuration once in the master, before any worker forks: a bad setting stops
# start-up with one line naming the variable, instead of every worker dying with a traceback.
try:
    Settings.from_env()
except ConfigError as exc:
    sys.exit(f"upload-signer: configuration error: {exc}")

bind = os.environ.get("BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
# Signing is short CPU work; requests never carry file bytes, so sync workers are right.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = 5
# Storage is prepared in each worker after fork, never in the master (threads do not survive fork).
preload_app = False
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# The runtime control socket is a management door this service does not use.
control_socket_disable = True

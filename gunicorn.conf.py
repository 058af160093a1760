"""gunicorn settings, all overridable from the environment (``GUNICORN_CMD_ARGS`` too)."""

import multiprocessing
import os
import shutil
import sys
import tempfile
from pathlib import Path

# Every worker writes its metrics to files in one directory, summed by /metrics. The variable must
# be set before anything imports prometheus_client (the app import below does), so it is set here
# at the top; without one given, a private directory is made and removed when gunicorn exits.
METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"
PRIVATE_METRICS_ENV = "UPLOAD_SIGNER_PRIVATE_METRICS_DIR"  # remembered across config reloads
if not os.environ.get(METRICS_ENV):
    os.environ[METRICS_ENV] = os.environ[PRIVATE_METRICS_ENV] = tempfile.mkdtemp(
        prefix="upload-signer-metrics-"
    )

from app.settings.parsers import ConfigError  # noqa: E402
from app.settings.service import Settings  # noqa: E402

# Check the configuration once in the master, before any worker forks: a bad setting stops
# start-up with one line naming the variable, instead of every worker dying with a traceback.
try:
    Settings.from_env()
except ConfigError as exc:
    if os.environ.get(PRIVATE_METRICS_ENV):
        shutil.rmtree(os.environ[PRIVATE_METRICS_ENV], ignore_errors=True)
    sys.exit(f"upload-signer: configuration error: {exc}")

bind = os.environ.get("BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
# Threaded workers (gthread): signing is short CPU work, but complete, status, abort and /readyz
# wait on storage, and a client may send its request slowly. A sync worker is held whole by one
# such wait: with storage frozen, six waiting `complete` calls stalled signing 12 s on 5 sync
# workers, and eight slow-header clients made /healthz time out (tests/deploy/test_stalls.py;
# figures in docs/operations.md, "Sizing"). With threads a wait holds one thread and the worker's
# other threads keep signing; idle keep-alive connections wait in the worker's poller, not in a
# thread. The usual 2 x cores + 1 processes keep the CPUs busy despite the GIL. 32 threads, not
# fewer: connections are not spread evenly over workers, and with 8 threads 20 slow clients
# already filled one worker that kept accepting; with 32, 80 slow clients left every probe fast.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
# gthread, whose own refusals (400, 414, 431) are problem+json, never its HTML page.
worker_class = "app.web.worker.ProblemThreadWorker"
threads = int(os.environ.get("GUNICORN_THREADS", "32"))
# A worker silent for this long is killed and replaced (a bug that blocks its main loop). Under
# gthread the heartbeat comes from the main loop, not from the request, so this does not bound a
# request: storage calls do that themselves (one STORAGE_TIMEOUT, then the circuit breaker).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# On SIGTERM workers stop accepting, finish the request in hand, and get this long to do it;
# keep it below the orchestrator's kill delay (Docker's 10 s by default: `docker stop -t 30`).
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = 5
# Heartbeat files on tmpfs: a worker never stalls on a slow or full disk (containers).
worker_tmp_dir = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None  # noqa: S108
# Storage is prepared in each worker after fork, never in the master (threads do not survive fork).
preload_app = False
# One JSON object per request on stdout (app/observability/accesslog.py); "-" is stdout, empty
# turns it off.
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None
logger_class = "app.observability.accesslog.JsonAccessLogger"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
# Addresses of the reverse proxies whose X-Forwarded-Proto gunicorn believes (comma-separated,
# "*" for any: only when nothing but the proxy can reach the port). Client addresses behind
# proxies are TRUSTED_PROXIES' business in the app, see docs/operations.md.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# The runtime control socket is a management door this service does not use.
control_socket_disable = True


def on_starting(server):
    """Start from empty metrics: files left by an earlier run would be summed in."""
    directory = Path(os.environ[METRICS_ENV])
    directory.mkdir(parents=True, exist_ok=True)
    # The app's start-up warnings read the real worker count (-w / GUNICORN_CMD_ARGS included).
    os.environ["WEB_CONCURRENCY"] = str(server.cfg.workers)
    for stale in directory.glob("*.db"):
        stale.unlink()


def post_worker_init(worker):
    """With the JSON access log on, its line per request carries the audit facts (who was given
    which object): the app then writes no second line for them (app/observability/logs.py)."""
    from app.observability.accesslog import JsonAccessLogger
    from app.web.runtime import EXTENSION

    logger, extensions = worker.log, getattr(worker.wsgi, "extensions", None)
    if isinstance(logger, JsonAccessLogger) and logger.writes_access_lines() and extensions:
        runtime = extensions.get(EXTENSION)
        if runtime is not None:
            runtime.access_log_audit = True


def child_exit(server, worker):
    """A dead worker's counters stay summed; its live gauges must go."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    private = os.environ.get(PRIVATE_METRICS_ENV)
    if private and private == os.environ.get(METRICS_ENV):
        shutil.rmtree(private, ignore_errors=True)

"""upload-signer: signs Swift / Cloud Files TempURLs so browsers upload straight to storage."""

from __future__ import annotations

# First: where pyrax is installed, its pinned dependencies need collections' old ABC aliases
# before python-swiftclient imports them (see app/storage/pyrax_backend.py).
from .storage import pyrax_backend  # noqa: F401

# isort: split
import logging
from collections.abc import Mapping

from flask import Flask
from flask_cors import CORS
from werkzeug.middleware.proxy_fix import ProxyFix

from .auth import Authenticator
from .config import Settings
from .errors import problem, register_error_handlers
from .limits import init_limits
from .logs import configure_logging, init_request_ids
from .metrics import init_metrics
from .readiness import StorageState
from .storage import StorageError, open_store
from .webhooks import WebhookSender

MAX_REQUEST_BYTES = 64 * 1024
PREFLIGHT_MAX_AGE = 600


def create_app(config: Settings | Mapping[str, str] | None = None) -> Flask:
    """Build the app from ``Settings``, an env-like mapping, or (None) the process environment.

    Raises ``ConfigError`` for a missing or invalid setting. Storage is prepared once here; if it
    is unreachable the app still starts, ``/readyz`` answers 503, and a background thread retries.
    """
    settings = config if isinstance(config, Settings) else Settings.from_env(config)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]
    configure_logging(logging.INFO)
    # swiftclient logs requests with (part of) the auth token; our storage layer logs failures.
    logging.getLogger("swiftclient").setLevel(logging.CRITICAL + 1)

    security = settings.security
    app.extensions["upload_signer.auth"] = Authenticator(settings.api_tokens, security)
    app.extensions["upload_signer.policy"] = security.policy
    if security.policy.trusted_proxies:
        # Trust exactly that many hops of X-Forwarded-For/-Proto; a client cannot add more.
        hops = security.policy.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    init_request_ids(app)
    state = StorageState(settings, lambda: open_store(settings))
    app.extensions["upload_signer.storage"] = state

    CORS(
        app,
        origins=list(settings.cors_origins),
        allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
        expose_headers=["X-Request-ID", "Retry-After"],
        # DELETE: a page cancels (aborts) its own uploads, DELETE /uploads/<upload_id>.
        methods=["GET", "POST", "DELETE", "OPTIONS"],
        max_age=PREFLIGHT_MAX_AGE,
        supports_credentials=False,
    )
    register_error_handlers(app)
    app.register_error_handler(
        StorageError, lambda exc: problem(503, f"Storage failed: {exc}.", {"Retry-After": "5"})
    )
    if settings.webhook_url and settings.webhook_secret:
        app.extensions["upload_signer.webhooks"] = WebhookSender(
            settings.webhook_url, settings.webhook_secret
        )
    from .api import bp
    from .openapi import bp as contract

    app.register_blueprint(bp)
    app.register_blueprint(contract)
    init_limits(app, security.limits)
    init_metrics(app)
    state.start()
    return app

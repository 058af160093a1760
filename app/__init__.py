"""upload-signer: signs Swift / Cloud Files TempURLs so browsers upload straight to storage."""

from __future__ import annotations

# First: where pyrax is installed, its pinned dependencies need collections' old ABC aliases
# before python-swiftclient imports them.
from .storage import pyrax_compat  # noqa: F401

# isort: split
import logging
from collections.abc import Mapping

from flask import Flask
from flask_cors import CORS
from werkzeug.middleware.proxy_fix import ProxyFix

from .auth.authenticator import Authenticator
from .observability.logs import configure_logging, init_request_ids
from .observability.metrics import init_metrics
from .settings.service import API_PREFLIGHT_MAX_AGE, Settings
from .storage.factory import open_store
from .storage.readiness import StorageReadiness
from .uploads.webhooks import WebhookSender
from .web import health, openapi, uploads
from .web.limits import init_limits, warn_about_deployment
from .web.problems import register_error_handlers
from .web.runtime import Runtime

MAX_REQUEST_BYTES = 64 * 1024


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
    hops = security.policy.trusted_proxies
    if hops:
        # Trust exactly that many hops of X-Forwarded-For/-Proto; a client cannot add more.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    init_request_ids(app)
    state = Runtime(
        settings=settings,
        authenticator=Authenticator(settings.api_tokens, security),
        storage=StorageReadiness(settings, lambda: open_store(settings)),
        webhooks=(
            WebhookSender(settings.webhook_url, settings.webhook_secret.get_secret_value())
            if settings.webhook_url and settings.webhook_secret
            else None
        ),
    )
    state.install(app)
    CORS(
        app,
        origins=list(settings.cors_origins),
        allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
        expose_headers=["X-Request-ID", "Retry-After"],
        # DELETE: a page cancels (aborts) its own uploads, DELETE /uploads/<upload_id>.
        methods=["GET", "POST", "DELETE", "OPTIONS"],
        max_age=API_PREFLIGHT_MAX_AGE,
        supports_credentials=False,
    )
    register_error_handlers(app)
    for blueprint in (uploads.bp, health.bp, openapi.bp):
        app.register_blueprint(blueprint)
    init_limits(app, security.limits)
    warn_about_deployment(security)
    init_metrics(app)
    state.storage.start()
    return app

"""upload-signer: signs Swift / Cloud Files TempURLs so browsers upload straight to storage."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Flask
from flask_cors import CORS

from .auth import TokenAuthenticator
from .config import Settings
from .errors import register_error_handlers
from .metrics import init_metrics
from .readiness import StorageState
from .storage import open_store

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
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # swiftclient logs requests with (part of) the auth token; our storage layer logs failures.
    logging.getLogger("swiftclient").setLevel(logging.CRITICAL + 1)

    app.extensions["upload_signer.auth"] = TokenAuthenticator(settings.api_tokens)
    state = StorageState(settings, lambda: open_store(settings))
    app.extensions["upload_signer.storage"] = state

    CORS(
        app,
        origins=list(settings.cors_origins),
        allow_headers=["Authorization", "Content-Type"],
        methods=["GET", "POST", "OPTIONS"],
        max_age=PREFLIGHT_MAX_AGE,
        supports_credentials=False,
    )
    register_error_handlers(app)
    from .api import bp

    app.register_blueprint(bp)
    init_metrics(app)
    state.start()
    return app

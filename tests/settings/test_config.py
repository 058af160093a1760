"""Settings from the environment: defaults, bounds, and one clear line per mistake."""

from __future__ import annotations

import pytest

from app.settings.parsers import ConfigError
from app.settings.service import Settings

BASE = {
    "ST_AUTH": "http://127.0.0.1:1/auth/v1.0",
    "ST_USER": "a:b",
    "ST_KEY": "k",
    "API_TOKENS": "x" * 16,
}


def test_defaults_are_safe():
    settings = Settings.from_env(BASE)
    assert settings.container == "uploads"
    assert settings.tempurl_ttl == 900
    assert settings.download_ttl == 3600
    assert settings.tempurl_digest == "sha256"
    assert settings.cors_origins == ()
    assert settings.tempurl_key is None
    assert settings.storage.provider == "swift-v1"


def test_secrets_stay_out_of_repr():
    settings = Settings.from_env(BASE | {"TEMPURL_KEY": "k" * 20, "ST_KEY": "storage-secret"})
    assert "x" * 16 not in repr(settings)
    assert "k" * 20 not in repr(settings)
    assert "storage-secret" not in repr(settings)


def test_values_are_parsed():
    settings = Settings.from_env(
        BASE
        | {
            "UPLOAD_CONTAINER": "media",
            "CORS_ORIGINS": " https://a.example , http://localhost:8001/ ,https://a.example",
            "API_TOKENS": "a" * 16 + ", " + "b" * 20,
            "TEMPURL_TTL": "60",
            "DOWNLOAD_TTL": "86400",
            "TEMPURL_DIGEST": "SHA512",
        }
    )
    assert settings.container == "media"
    assert settings.cors_origins == ("https://a.example", "http://localhost:8001")
    assert settings.api_tokens == ("a" * 16, "b" * 20)
    assert (settings.tempurl_ttl, settings.download_ttl) == (60, 86400)
    assert settings.tempurl_digest == "sha512"


@pytest.mark.parametrize(
    ("change", "variable"),
    [
        ({"ST_AUTH": ""}, "ST_AUTH"),
        ({"ST_KEY": ""}, "ST_KEY"),
        ({"ST_AUTH": "", "ST_USER": "", "ST_KEY": ""}, "ST_AUTH"),
        ({"ST_AUTH": "ftp://x"}, "ST_AUTH"),
        ({"API_TOKENS": ""}, "API_TOKENS"),
        ({"API_TOKENS": "short"}, "API_TOKENS"),
        ({"CORS_ORIGINS": "*"}, "CORS_ORIGINS"),
        ({"CORS_ORIGINS": "https://*.example.com"}, "CORS_ORIGINS"),
        ({"CORS_ORIGINS": "example.com"}, "CORS_ORIGINS"),
        ({"CORS_ORIGINS": "https://a.example/path"}, "CORS_ORIGINS"),
        ({"TEMPURL_TTL": "abc"}, "TEMPURL_TTL"),
        ({"TEMPURL_TTL": "0"}, "TEMPURL_TTL"),
        ({"TEMPURL_TTL": "86401"}, "TEMPURL_TTL"),
        ({"DOWNLOAD_TTL": "-5"}, "DOWNLOAD_TTL"),
        ({"DOWNLOAD_TTL": str(8 * 86400)}, "DOWNLOAD_TTL"),
        ({"TEMPURL_DIGEST": "md5"}, "TEMPURL_DIGEST"),
        ({"TEMPURL_KEY": "short"}, "TEMPURL_KEY"),
        ({"UPLOAD_CONTAINER": "a/b"}, "UPLOAD_CONTAINER"),
        ({"STORAGE_TIMEOUT": "0"}, "STORAGE_TIMEOUT"),
    ],
)
def test_each_mistake_names_its_variable(change, variable):
    with pytest.raises(ConfigError) as error:
        Settings.from_env(BASE | change)
    message = str(error.value)
    assert variable in message
    assert "\n" not in message


def test_the_missing_variable_of_a_partial_set_is_named():
    with pytest.raises(ConfigError, match=r"^ST_KEY is not set \(needed with ST_AUTH, ST_USER\)$"):
        Settings.from_env({k: v for k, v in BASE.items() if k != "ST_KEY"})

"""The settings models: secrets kept out of sight, aliases, one parser per kind, one-line errors."""

from __future__ import annotations

import logging

import pytest
from pydantic import Field, SecretStr, ValidationError

from app.settings.parsers import GIB, MIB, ConfigError, parse_size
from app.settings.security import LimitSettings, PolicySettings, SecuritySettings
from app.settings.service import Settings
from app.settings.sources import EnvSettings, one_line
from app.settings.storage import KeystoneAuth, RackspaceAuth, SwiftV1Auth

ST = {"ST_AUTH": "http://127.0.0.1:1/auth/v1.0", "ST_USER": "a:b", "ST_KEY": "st-key-secret"}
TOKEN = "api-token-secret-0123"
BASE = ST | {"API_TOKENS": f"alice:{TOKEN}"}
OS = {
    "OS_AUTH_URL": "https://keystone.example/v3",
    "OS_USERNAME": "alice",
    "OS_PASSWORD": "os-password-secret",
}
SECRETS = {
    "TEMPURL_KEY": "tempurl-key-secret",
    "SECRET_KEY": "secret-key-secret",
    "UPLOAD_WEBHOOK_URL": "https://hooks.example/upload",
    "WEBHOOK_SECRET": "webhook-secret",
    "JWT_SECRET": "jwt-secret-" + "j" * 32,
    "RATELIMIT_STORAGE_URI": "redis://:redis-password-secret@redis:6379/0",
}


def _secret_values(env: dict[str, str]) -> list[str]:
    return [value for value in env.values() if "secret" in value]


@pytest.mark.parametrize(
    "env",
    [
        BASE | SECRETS,
        {"RACKSPACE_USERNAME": "u", "RACKSPACE_API_KEY": "rackspace-key-secret"} | SECRETS,
        OS | {"OS_PROJECT_NAME": "p"} | SECRETS,
        OS
        | {
            "OS_APPLICATION_CREDENTIAL_ID": "id",
            "OS_APPLICATION_CREDENTIAL_SECRET": "app-cred-secret",
        },
    ],
    ids=["swift-v1", "rackspace", "keystone", "app-credential"],
)
def test_no_secret_shows_in_repr_str_logs_or_a_dump(env, caplog):
    settings = Settings.from_env(env | {"API_TOKENS": f"alice:{TOKEN}"})
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("settings: %s / %r", settings, settings)
    shown = [repr(settings), str(settings), caplog.text, settings.model_dump_json()]
    for secret in [*_secret_values(env), TOKEN]:
        assert not [text for text in shown if secret in text], secret


def test_secrets_are_secret_strings_and_consumers_unwrap_them():
    settings = Settings.from_env(BASE | SECRETS)
    assert isinstance(settings.tempurl_key, SecretStr)
    assert settings.tempurl_key.get_secret_value() == SECRETS["TEMPURL_KEY"]
    assert isinstance(settings.storage, SwiftV1Auth)
    assert settings.storage.secret == "st-key-secret"
    assert settings.security.jwt.secret.get_secret_value() == SECRETS["JWT_SECRET"]
    # flask-limiter takes the URI as it is; only the field holding it is secret.
    assert settings.security.limits.storage_uri == SECRETS["RATELIMIT_STORAGE_URI"]
    assert settings.api_tokens == (f"alice:{TOKEN}",)


@pytest.mark.parametrize(
    ("extra", "name", "project_id"),
    [
        ({"OS_PROJECT_NAME": "project"}, "project", None),
        ({"OS_TENANT_NAME": "tenant"}, "tenant", None),
        ({"OS_PROJECT_NAME": "project", "OS_TENANT_NAME": "tenant"}, "project", None),
        ({"OS_PROJECT_NAME": " ", "OS_TENANT_NAME": "tenant"}, "tenant", None),
        ({"OS_TENANT_ID": "tid"}, None, "tid"),
        ({"OS_PROJECT_ID": "pid", "OS_TENANT_ID": "tid"}, None, "pid"),
    ],
)
def test_keystone_takes_the_older_tenant_names_too(extra, name, project_id):
    auth = Settings.from_env(OS | extra | {"API_TOKENS": TOKEN}).storage
    assert isinstance(auth, KeystoneAuth)
    assert (auth.project_name, auth.project_id) == (name, project_id)


def test_the_first_provider_with_a_variable_set_wins_even_when_incomplete():
    rackspace = {"RACKSPACE_USERNAME": "u", "RACKSPACE_API_KEY": "k"}
    assert isinstance(
        Settings.from_env(rackspace | OS | {"API_TOKENS": TOKEN}).storage, RackspaceAuth
    )
    with pytest.raises(ConfigError, match=r"^ST_AUTH is not set \(needed with ST_USER\)$"):
        Settings.from_env({"ST_USER": "u", "API_TOKENS": TOKEN} | rackspace)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("16777216", 16 * MIB),
        ("10M", 10 * MIB),
        ("16MiB", 16 * MIB),
        ("16mb", 16 * MIB),
        ("5 GiB", 5 * GIB),
        ("1g", GIB),
        ("2k", 2048),
        (" 7 ", 7),
    ],
)
def test_sizes_are_bytes_or_binary_units(text, size):
    assert parse_size(text) == size
    assert Settings.from_env(BASE | {"SEGMENT_THRESHOLD": text}).segment_threshold == size


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TEMPURL_TTL": "forever"}, "TEMPURL_TTL must be a whole number, got 'forever'"),
        ({"TEMPURL_TTL": "0"}, "TEMPURL_TTL must be between 1 and 86400, got 0"),
        ({"STORAGE_TIMEOUT": "x"}, "STORAGE_TIMEOUT must be a number, got 'x'"),
        ({"STORAGE_TIMEOUT": "0"}, "STORAGE_TIMEOUT must be between 0.1 and 300, got 0"),
        (
            {"UPLOAD_EXPIRE_AFTER": "0"},
            "UPLOAD_EXPIRE_AFTER must be between 1 and 316224000, got 0",
        ),
        (
            {"MAX_UPLOAD_SIZE": "lots"},
            "MAX_UPLOAD_SIZE is not a size: 'lots' (e.g. 16777216 or 16M)",
        ),
        ({"SEGMENT_SIZE": "1023k"}, "SEGMENT_SIZE must be between 1048576 and 5368709120 bytes"),
        (
            {"UPLOAD_BIND_IP": "maybe"},
            "UPLOAD_BIND_IP must be 1 or 0 (or true/false, yes/no, on/off)",
        ),
        (
            {"TEMPURL_DIGEST": "MD5"},
            "TEMPURL_DIGEST must be one of sha256, sha512, sha1, got 'md5'",
        ),
        ({"UPLOAD_WEBHOOK_URL": "http://"}, "UPLOAD_WEBHOOK_URL must be an http(s) URL"),
        ({"JWT_JWKS_URL": "http://[::1"}, "JWT_JWKS_URL must be an http(s) URL"),
        ({"SEGMENT_CONTAINER": "a/b"}, "SEGMENT_CONTAINER must be 1-256 bytes with no '/'"),
        ({"CORS_ORIGINS": "https://a.example/x"}, "CORS_ORIGINS entry 'https://a.example/x' is"),
        ({"TEMPURL_KEY": "short"}, "TEMPURL_KEY must be at least 16 characters"),
        ({"JWT_SECRET": "é" * 15}, "JWT_SECRET must be at least 32 bytes"),
        ({"RATE_LIMIT": "fast"}, "RATE_LIMIT must be a rate like 120/minute, got 'fast'"),
        ({"AUTH_MODE": "token,none"}, "AUTH_MODE must be one of token, jwt, got 'none'"),
        ({"UPLOAD_WEBHOOK_URL": "https://h.example"}, "WEBHOOK_SECRET is not set (needed with"),
    ],
)
def test_each_error_is_one_line_naming_its_variable(env, message):
    with pytest.raises(ConfigError) as error:
        Settings.from_env(BASE | env)
    text = str(error.value)
    assert text.startswith(message)
    assert "\n" not in text and "pydantic" not in text and "Value error" not in text


class Named(EnvSettings):
    port: int = Field(0, validation_alias="PORT")
    name: str = Field(validation_alias="NAME")
    composed: int = 0  # no variable: a part its caller gives


def test_a_pydantic_error_of_its_own_becomes_one_line_too():
    with pytest.raises(ValidationError) as error:
        Named.model_validate({"PORT": "eighty", "NAME": "n"})
    assert str(one_line(error.value)) == (
        "PORT is not valid: Input should be a valid integer, unable to parse string as an integer"
    )
    with pytest.raises(ConfigError, match=r"^PORT is not valid: Input should be a valid integer"):
        Named.read({"PORT": "eighty", "NAME": "n"})
    with pytest.raises(ConfigError, match=r"^NAME is not set$"):
        Named.read({"PORT": "80"})


def test_only_variables_named_by_a_field_are_read():
    named = Named.read({"NAME": "n", "composed": "5", "name": "lower"})
    assert (named.name, named.composed) == ("n", 0)
    assert Named.read({"NAME": "n"}, composed=5).composed == 5


def test_only_the_given_mapping_is_read(monkeypatch, tmp_path):
    monkeypatch.setenv("TEMPURL_TTL", "60")
    monkeypatch.setenv("UPLOAD_BIND_IP", "1")
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("TEMPURL_TTL=61\nDOWNLOAD_TTL=62\n")
    settings = Settings.from_env(BASE)
    assert (settings.tempurl_ttl, settings.download_ttl) == (900, 3600)
    assert settings.security.policy.bind_ip is False
    assert PolicySettings() == PolicySettings.read({})  # defaults, with no environment at all


def test_the_process_environment_when_no_mapping_is_given(monkeypatch):
    for name, value in BASE.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TEMPURL_TTL", "60")
    assert Settings.from_env().tempurl_ttl == 60


def test_blank_variables_are_unset_and_values_are_stripped():
    settings = Settings.from_env(BASE | {"TEMPURL_TTL": "  ", "UPLOAD_CONTAINER": " media "})
    assert (settings.tempurl_ttl, settings.container) == (900, "media")


def test_lists_are_comma_separated_never_json():
    settings = Settings.from_env(
        BASE | {"ALLOWED_CONTENT_TYPES": "Image/*, application/pdf,", "AUTH_MODE": "TOKEN"}
    )
    assert settings.security.policy.allowed_content_types == ("image/*", "application/pdf")
    assert settings.security.auth_modes == ("token",)
    with pytest.raises(ConfigError, match="CORS_ORIGINS"):
        Settings.from_env(BASE | {"CORS_ORIGINS": '["https://a.example"]'})


def test_auth_modes_are_inferred_from_the_settings_given():
    jwt = {"JWT_SECRET": "j" * 32}
    assert SecuritySettings.from_env({"API_TOKENS": TOKEN} | jwt).auth_modes == ("token", "jwt")
    assert SecuritySettings.from_env(jwt).auth_modes == ("jwt",)
    assert SecuritySettings.from_env(
        {"API_TOKENS": TOKEN} | jwt | {"AUTH_MODE": "jwt"}
    ).auth_modes == ("jwt",)
    with pytest.raises(ConfigError, match=r"^API_TOKENS is not set: give at least one"):
        SecuritySettings.from_env({"API_TOKENS": " , "})


def test_settings_are_frozen():
    settings = Settings.from_env(BASE)
    with pytest.raises(ValueError, match="frozen"):
        settings.tempurl_ttl = 1
    assert LimitSettings().storage_uri == "memory://"

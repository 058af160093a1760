"""Reading a settings model from one mapping of variables, and its errors as one line."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from .parsers import ConfigError


def given(env: Mapping[str, str]) -> dict[str, str]:
    """The variables that are set, stripped: a blank variable is an unset one."""
    return {name: value.strip() for name, value in env.items() if value.strip()}


class MappingSource(EnvSettingsSource):
    """The variables of one mapping: the process environment, or a test's plain dict."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._env = env
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return given(self._env)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        # A field without a variable is a part the caller composes (a nested model).
        if field.validation_alias is None:
            return None, field_name, False
        return super().get_field_value(field, field_name)


def one_line(error: ValidationError) -> ConfigError:
    """The first problem, named by its variable; never pydantic's dump or its link."""
    first = error.errors(include_url=False)[0]
    name = ".".join(str(part) for part in first["loc"])
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, ConfigError):
        return cause
    if first["type"] == "missing":
        return ConfigError(f"{name} is not set")
    detail = str(cause) if isinstance(cause, ValueError) else f"is not valid: {first['msg']}"
    return ConfigError(f"{name} {detail}" if name else detail)


class EnvSettings(BaseSettings):
    """A settings model whose fields name their variables as ``validation_alias``."""

    model_config = SettingsConfigDict(
        case_sensitive=True,
        enable_decoding=False,  # lists are comma-separated, never JSON
        frozen=True,
        extra="forbid",  # a field passed by its Python name instead of its variable is a mistake
        validate_default=False,  # the defaults are ours; the parsers take only strings
        hide_input_in_errors=True,  # an error must not carry a secret along
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only what read() hands over: a test's dict is the whole environment, with no .env
        # file, secrets directory or os.environ behind it.
        return (init_settings,)

    @classmethod
    def read(cls, env: Mapping[str, str], **parts: Any) -> Self:
        """The model from ``env``, with ``parts`` (nested models) composed by the caller."""
        values = MappingSource(cls, env)() | parts
        try:
            return cls(**values)
        except ValidationError as exc:
            raise one_line(exc) from None

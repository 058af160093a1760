"""``OS_CLOUD``: the ``OS_*`` variables a cloud of clouds.yaml fills, read with openstacksdk's own
loader (the ``clouds`` extra), as the ``openstack`` CLI reads them. Variables that are set win.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .parsers import ConfigError

# A cloud's ``auth`` keys and the variables they fill; the others come from the cloud itself.
CLOUD_AUTH = {
    "auth_url": "OS_AUTH_URL",
    "username": "OS_USERNAME",
    "user_id": "OS_USER_ID",
    "password": "OS_PASSWORD",
    "project_name": "OS_PROJECT_NAME",
    "project_id": "OS_PROJECT_ID",
    "user_domain_name": "OS_USER_DOMAIN_NAME",
    "user_domain_id": "OS_USER_DOMAIN_ID",
    "project_domain_name": "OS_PROJECT_DOMAIN_NAME",
    "project_domain_id": "OS_PROJECT_DOMAIN_ID",
    "application_credential_id": "OS_APPLICATION_CREDENTIAL_ID",
    "application_credential_name": "OS_APPLICATION_CREDENTIAL_NAME",
    "application_credential_secret": "OS_APPLICATION_CREDENTIAL_SECRET",
}
CLOUD_OPTIONS = {
    "region_name": "OS_REGION_NAME",
    "interface": "OS_INTERFACE",
    "cacert": "OS_CACERT",
    "identity_api_version": "OS_IDENTITY_API_VERSION",
}
# A variable that is set keeps the cloud from filling the others of its group: an OS_USER_ID in
# the environment must not meet the cloud's username, where the ID would win.
CLOUD_GROUPS = (
    ("OS_USERNAME", "OS_USER_ID"),
    ("OS_PROJECT_NAME", "OS_PROJECT_ID", "OS_TENANT_NAME", "OS_TENANT_ID"),
    ("OS_USER_DOMAIN_NAME", "OS_USER_DOMAIN_ID"),
    ("OS_PROJECT_DOMAIN_NAME", "OS_PROJECT_DOMAIN_ID"),
    ("OS_APPLICATION_CREDENTIAL_ID", "OS_APPLICATION_CREDENTIAL_NAME"),
)


def cloud_variables(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with the ``OS_*`` variables that the cloud ``OS_CLOUD`` names fills in.

    openstacksdk's loader reads clouds.yaml (and secure.yaml for secrets) from
    ``OS_CLIENT_CONFIG_FILE`` (``OS_CLIENT_SECURE_FILE``), the current directory,
    ``~/.config/openstack`` and ``/etc/openstack``, as the ``openstack`` CLI does. Only ``env``
    counts, never the process environment behind it. Variables that are set win.
    """
    name = env["OS_CLOUD"]
    try:
        from openstack import exceptions as sdk_exceptions
        from openstack.config import loader
    except ImportError:
        raise ConfigError(
            "OS_CLOUD is set but openstacksdk is not installed: pip install 'upload-signer[clouds]'"
        ) from None
    config_files, secure_files = list(loader.CONFIG_FILES), list(loader.SECURE_FILES)
    for variable, files in (
        ("OS_CLIENT_CONFIG_FILE", config_files),
        ("OS_CLIENT_SECURE_FILE", secure_files),
    ):
        if variable in env:
            if not Path(env[variable]).is_file():
                raise ConfigError(f"{variable} is {env[variable]!r}, which is not a file")
            files.insert(0, env[variable])
    try:
        clouds = loader.OpenStackConfig(
            config_files=config_files, secure_files=secure_files, load_envvars=False
        )
        if name not in clouds.get_cloud_names() or not clouds.config_filename:
            raise ConfigError(_no_such_cloud(name, clouds, config_files))
        with warnings.catch_warnings():  # its notes about metrics libraries we do not use
            warnings.filterwarnings("ignore", module=r"openstack\.")
            region = clouds.get_one(cloud=name, validate=False)
    except sdk_exceptions.SDKException as exc:
        raise ConfigError(f"OS_CLOUD={name}: {exc}") from None
    own = clouds.cloud_config["clouds"][name]
    values = {CLOUD_AUTH[key]: value for key, value in region.config["auth"].items()
              if key in CLOUD_AUTH}  # fmt: skip
    values |= {variable: region.config.get(key) for key, variable in CLOUD_OPTIONS.items()}
    # The loader's default is "password"; only the cloud's own choice counts.
    values["OS_AUTH_TYPE"] = own.get("auth_type") or own.get("auth_plugin")
    taken = {member for group in CLOUD_GROUPS if any(v in env for v in group) for member in group}
    filled = {
        variable: str(value)
        for variable, value in values.items()
        if value not in (None, "") and variable not in env and variable not in taken
    }
    return filled | dict(env)


def _no_such_cloud(name: str, clouds: Any, config_files: list[str]) -> str:
    if not clouds.config_filename:
        folders = dict.fromkeys(str(Path(file).parent) for file in config_files)
        return (
            f"OS_CLOUD={name}: no clouds.yaml found; searched clouds.yaml, clouds.yml and "
            f"clouds.json in {', '.join(folders)} (OS_CLIENT_CONFIG_FILE names another file)"
        )
    names = ", ".join(clouds.get_cloud_names()) or "none"
    return (
        f"OS_CLOUD={name}: no such cloud in {clouds.config_filename} (it has: {names}); "
        "set OS_CLOUD to one of them, or OS_CLIENT_CONFIG_FILE to the file that has it"
    )

"""`upload-signer check` against a real embedded Swift.

With Swift v1 auth on the session's Swift, behind a mocked Rackspace identity (with ServiceNet)
whose catalog points at a Swift of this module, and behind a real Keystone with a Swift that takes
its tokens.
"""

from __future__ import annotations

import io
import os
import subprocess
import uuid
from collections.abc import Iterator

import pytest
import requests
from swiftclient import client as swift_client

from app.cli.check import run_check
from tests.support import rackspace
from tests.support.constants import ALLOWED_ORIGIN, TOKEN
from tests.support.keystone import service_env
from tests.support.keystone_server import PROJECT, READER_ROLE, ROLE, Cloud, keystone_cloud
from tests.support.servers import BIN, ROOT
from tests.support.swift_account import (
    PUBLIC_CLIENT,
    SERVICENET_CLIENT,
    SwiftAccount,
    identity_mocked,
)

OTHER_ORIGIN = "https://second.example"


@pytest.fixture
def check_env(swift) -> dict[str, str]:
    """The service's settings on a container of its own, so other tests' state does not matter."""
    return swift.env | {
        "API_TOKENS": TOKEN,
        "CORS_ORIGINS": f"{ALLOWED_ORIGIN},{OTHER_ORIGIN}",
        "UPLOAD_CONTAINER": f"check-{uuid.uuid4().hex[:8]}",
    }


def check(env: dict[str, str], fix: bool = False) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = run_check(env, fix=fix, out=out)
    return code, out.getvalue().splitlines()


def line(lines: list[str], step: str) -> str:
    found = [text for text in lines if text[6:].startswith(step)]
    assert found, f"no {step!r} line in {lines}"
    return found[0]


def swift_conn(env: dict[str, str]) -> swift_client.Connection:
    return swift_client.Connection(env["ST_AUTH"], env["ST_USER"], env["ST_KEY"])


def test_check_fix_prepares_and_then_every_step_passes(check_env):
    code, lines = check(check_env)
    assert code == 1
    assert line(lines, "container").startswith("FAIL")
    assert "does not exist" in line(lines, "container")
    code, lines = check(check_env, fix=True)
    assert code == 0, lines
    for step in ("authenticate", "container CORS", "TempURL key", "TempURL PUT", "TempURL GET"):
        assert line(lines, step).startswith("ok"), lines
    assert line(lines, "FormPOST") == (
        "ok    FormPOST               20 bytes stored, one byte more refused (400)"
    )
    assert [text for text in lines if "CORS preflight" in text] == [
        f"ok    CORS preflight         {ALLOWED_ORIGIN} may PUT",
        f"ok    CORS preflight         {OTHER_ORIGIN} may PUT",
    ]
    assert "sha256 is allowed" in line(lines, "cluster digests")
    assert lines[-1] == "all checks passed: browsers can upload"
    # Its own test objects are gone, and nothing else was written.
    for container in (check_env["UPLOAD_CONTAINER"], check_env["UPLOAD_CONTAINER"] + "_segments"):
        assert swift_conn(check_env).get_container(container)[1] == []


def test_check_names_a_broken_cors_setup_and_fix_repairs_it(check_env):
    assert check(check_env, fix=True)[0] == 0
    container = check_env["UPLOAD_CONTAINER"]
    swift_conn(check_env).post_container(
        container, {"X-Container-Meta-Access-Control-Allow-Origin": "https://stale.example"}
    )
    code, lines = check(check_env)
    assert code == 1
    cors = line(lines, "container CORS")
    assert cors.startswith("FAIL")
    assert "allows https://stale.example, not" in cors and ALLOWED_ORIGIN in cors
    assert "upload-signer check --fix" in cors
    preflights = [text for text in lines if "CORS preflight" in text]
    assert len(preflights) == 2 and all(text.startswith("FAIL") for text in preflights)
    assert "answered 401 to a browser's preflight from" in preflights[0]
    assert lines[-1] == "3 check(s) failed"
    # Without --fix, check changed nothing.
    headers = swift_conn(check_env).head_container(container)
    assert headers["x-container-meta-access-control-allow-origin"] == "https://stale.example"
    assert check(check_env, fix=True)[0] == 0


def test_check_catches_a_missing_origin_in_a_partial_cors_list(check_env):
    assert check(check_env, fix=True)[0] == 0
    swift_conn(check_env).post_container(
        check_env["UPLOAD_CONTAINER"],
        {"X-Container-Meta-Access-Control-Allow-Origin": ALLOWED_ORIGIN},
    )
    code, lines = check(check_env)
    assert code == 1
    assert f"not {OTHER_ORIGIN};" in line(lines, "container CORS")
    preflights = [text for text in lines if "CORS preflight" in text]
    assert preflights[0].startswith("ok") and preflights[1].startswith("FAIL")


def test_check_never_prints_secrets(check_env):
    _, lines = check(check_env, fix=True)
    text = "\n".join(lines)
    assert check_env["ST_KEY"] not in text
    assert "temp_url_sig" not in text and "AUTH_tk" not in text


def test_wrong_credentials_stop_at_authenticate(check_env):
    code, lines = check(check_env | {"ST_KEY": "wrong-key"})
    assert code == 1
    assert lines[0] == (
        "FAIL  authenticate           authenticate: storage answered 401 Unauthorized: the "
        "credentials were refused; fix: check ST_USER and ST_KEY"
    )
    assert len(lines) == 2  # nothing else can be checked


def test_check_never_claims_what_it_did_not_check(check_env):
    assert check(check_env, fix=True)[0] == 0
    code, lines = check({k: v for k, v in check_env.items() if k != "CORS_ORIGINS"})
    assert code == 0
    assert line(lines, "container CORS").startswith("skip")
    assert "browsers can upload" not in lines[-1]
    assert lines[-1] == "the checks that ran passed; not checked: container CORS (see above)"


def test_check_without_callers_configured_warns_once_and_checks_storage(check_env):
    assert check(check_env, fix=True)[0] == 0
    code, lines = check({k: v for k, v in check_env.items() if k != "API_TOKENS"})
    assert code == 0, lines
    assert lines[0].startswith("warn  configuration          API_TOKENS is not set")
    assert [text for text in lines if text.startswith("warn")] == [lines[0]]
    assert line(lines, "TempURL PUT").startswith("ok")
    assert "not checked: configuration" in lines[-1]


def test_check_into_a_closed_pipe_ends_quietly(check_env):
    """`upload-signer check | head -1`: the rest of the report has nowhere to go."""
    command = [str(BIN / "upload-signer"), "check"]
    with subprocess.Popen(command, env=os.environ | check_env, cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as check_cli:  # fmt: skip
        head = subprocess.run(["head", "-1"], stdin=check_cli.stdout, capture_output=True,
                              text=True, timeout=120)  # fmt: skip
        check_cli.stdout.close()  # head has ended: the next line check writes breaks the pipe
        stderr = check_cli.stderr.read().decode()
        check_cli.wait(120)
    result = subprocess.CompletedProcess(command, check_cli.returncode, head.stdout, stderr)
    assert result.stdout.startswith("ok    authenticate")
    assert "Traceback" not in result.stderr and "BrokenPipeError" not in result.stderr


def test_a_configuration_error_exits_2():
    code, lines = check({"API_TOKENS": TOKEN})
    assert code == 2
    assert lines[0].startswith("FAIL  configuration          no storage credentials")


def test_the_cli_runs_check_with_the_service_environment(check_env):
    result = subprocess.run(
        [str(BIN / "upload-signer"), "check", "--fix"],
        env=os.environ | check_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all checks passed" in result.stdout
    assert result.stderr == ""


# -- the same check behind Rackspace identity (ServiceNet) and Keystone --------------------------
@pytest.fixture(scope="module")
def provider_swift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwiftAccount]:
    with SwiftAccount.started(tmp_path_factory.mktemp("check-provider-swift")) as account:
        yield account


@pytest.fixture
def cloud(provider_swift: SwiftAccount) -> SwiftAccount:
    """The module's Swift behind an identity service, its access log read from now on."""
    provider_swift.mark()
    return provider_swift


def own_container() -> dict[str, str]:
    return {"UPLOAD_CONTAINER": f"check-{uuid.uuid4().hex[:8]}"}


def test_check_passes_on_rackspace_with_servicenet(cloud):
    env = rackspace.ENV | own_container() | {"RACKSPACE_REGION": "IAD", "RACKSPACE_SERVICENET": "1"}
    with identity_mocked() as mock:
        rackspace.mock_identity(mock, cloud, region="IAD")
        code, lines = check(env, fix=True)
    assert code == 0, lines
    assert line(lines, "authenticate") == (
        f"ok    authenticate           rackspace, storage URL {cloud.public_url} "
        f"(own calls: {cloud.internal_url}), region IAD"
    )
    assert cloud.object_names(env["UPLOAD_CONTAINER"]) == []  # its test object deleted again
    calls = cloud.calls()
    signed = [c for c in calls if c.method == "PUT" and "temp_url_sig" in c.path]
    assert signed and all(c.client == PUBLIC_CLIENT for c in signed)  # as a browser would
    own = [c for c in calls if c.token]
    assert own and all(c.client == SERVICENET_CLIENT for c in own)


def test_check_names_an_unknown_rackspace_region():
    with identity_mocked() as mock:
        rackspace.mock_identity(mock, None)
        code, lines = check(rackspace.ENV | {"RACKSPACE_REGION": "SFO"})
    assert code == 1
    assert lines[0] == (
        "FAIL  authenticate           Cloud Files has no endpoint in region SFO; "
        "the catalog has: DFW, HKG, IAD, LON, ORD, SYD"
    )


# -- a real Keystone --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def keystone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    with keystone_cloud(tmp_path_factory.mktemp("check-keystone")) as started:
        yield started


def test_check_passes_on_keystone(keystone: Cloud):
    env = service_env() | keystone.password_env() | own_container()
    code, lines = check(env, fix=True)
    assert code == 0, lines
    assert line(lines, "authenticate") == (
        f"ok    authenticate           keystone-v3, storage URL {keystone.storage_url}, "
        "region RegionOne"
    )
    assert lines[-1] == "all checks passed: browsers can upload"
    listing = requests.get(
        f"{keystone.storage_url}/{env['UPLOAD_CONTAINER']}",
        headers={"X-Auth-Token": keystone.user_token()},
        timeout=30,
    )
    assert listing.status_code == 204  # empty: its test object deleted again


def test_check_names_the_role_a_reader_only_user_lacks(keystone: Cloud):
    env = service_env() | keystone.add_user("reader-only", READER_ROLE) | own_container()
    code, lines = check(env)
    assert code == 1
    assert line(lines, "authenticate").startswith("ok")  # Keystone lets it in; Swift does not
    domain = keystone.domain_id
    fix = (
        "fix: give the Keystone user a role in Swift's keystoneauth operator_roles (member on "
        "most clouds; reader is not one): `openstack role add --user reader-only --user-domain "
        f"{domain} --project {PROJECT} --project-domain {domain} member`"
    )
    container = env["UPLOAD_CONTAINER"]
    assert line(lines, "container") == (
        "FAIL  container              container HEAD: storage answered 403 Forbidden: the "
        f"storage user may not read {container!r}; {fix}"
    )
    assert line(lines, "TempURL key") == (
        "FAIL  TempURL key            account HEAD: storage answered 403 Forbidden: the "
        f"storage user may not read the account's TempURL key; {fix}"
    )
    code, lines = check(env, fix=True)
    assert code == 1
    assert line(lines, "fix").endswith(f"may not prepare the containers and the TempURL key; {fix}")

    # The fix it names is the one: with the member role, check --fix passes.
    admin = keystone.admin()
    user = admin.find("users", "reader-only")
    admin.call(
        "PUT", f"/projects/{keystone.project_id}/users/{user}/roles/{admin.find('roles', ROLE)}"
    )
    code, lines = check(env, fix=True)
    assert code == 0, lines

"""The production image, checked without a Docker engine.

The Dockerfile is parsed for its properties, and its start and health-check commands are run
here as the image runs them: from a directory holding only the files the image copies, with the
image's environment, against the real embedded Swift.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from importlib.metadata import distribution
from pathlib import Path

import pytest
import requests
from dockerfile_parse import DockerfileParser
from packaging.requirements import Requirement

from app.embedded.node import free_port
from tests.support.constants import TOKEN
from tests.support.servers import BIN, ROOT

START_COMMAND = ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
AGENT = 'probe "quoted" \\ agent'
DEV_ONLY = {"swift", "pytest", "ruff", "requests-mock", "dockerfile-parse"}


@pytest.fixture(scope="module")
def dockerfile() -> DockerfileParser:
    return DockerfileParser(str(ROOT / "Dockerfile"))


def stages(parser: DockerfileParser) -> list[list[dict]]:
    """Instructions grouped by stage, each stage starting with its FROM."""
    grouped: list[list[dict]] = []
    for item in parser.structure:
        if item["instruction"] == "FROM":
            grouped.append([])
        if grouped and item["instruction"] != "COMMENT":
            grouped[-1].append(item)
    return grouped


def instructions(stage: list[dict], name: str) -> list[str]:
    return [item["value"] for item in stage if item["instruction"] == name]


def exec_form(value: str) -> list[str]:
    argv = json.loads(value)
    assert isinstance(argv, list), "use the exec (JSON) form: signals reach gunicorn directly"
    return argv


def healthcheck_argv(stage: list[dict]) -> list[str]:
    (value,) = instructions(stage, "HEALTHCHECK")
    options, _, command = value.partition("CMD")
    assert re.search(r"--timeout=\d+s", options) and re.search(r"--interval=\d+s", options)
    return exec_form(command.strip())


def runtime_closure(name: str, seen: set[str] | None = None) -> set[str]:
    """Names of every distribution that installing ``name`` without extras pulls in."""
    seen = set() if seen is None else seen
    for raw in distribution(name).requires or []:
        requirement = Requirement(raw)
        if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
            continue  # an extra's requirement, or one for another platform
        key = requirement.name.lower().replace("_", "-")
        if key not in seen:
            seen.add(key)
            runtime_closure(key, seen)
    return seen


# -- the file --------------------------------------------------------------------------------


def test_multi_stage_on_a_slim_python_base(dockerfile):
    assert dockerfile.is_multistage
    assert len(stages(dockerfile)) == 2
    for image in dockerfile.parent_images:
        assert re.fullmatch(r"python:3\.\d+-slim(-\w+)?", image), image
    # The runtime copies the virtualenv out of the build stage instead of building anything.
    runtime = stages(dockerfile)[-1]
    assert any(copy.startswith("--from=build ") for copy in instructions(runtime, "COPY"))
    assert not any("pip install" in run or "apt-get" in run for run in instructions(runtime, "RUN"))


def test_runs_as_a_non_root_user(dockerfile):
    users = instructions(stages(dockerfile)[-1], "USER")
    assert users, "the runtime stage must switch to a non-root user"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    if user.isdigit():
        assert int(user) >= 1000


def test_installs_the_package_without_extras(dockerfile):
    installs = [run for run in instructions(stages(dockerfile)[0], "RUN") if "pip install" in run]
    assert installs
    for run in installs:
        words = shlex.split(run.split("pip install", 1)[1].split("&&")[0])
        targets = [word for word in words if not word.startswith("-")]
        # The package, plus only the extras a builder names in EXTRAS (none by default).
        assert targets in (["."], [".${EXTRAS:+[$EXTRAS]}"]), run
    build_args = dict(arg.partition("=")[::2] for arg in instructions(stages(dockerfile)[0], "ARG"))
    assert build_args.get("EXTRAS", "").strip('"') == ""
    # And installing the package alone cannot bring in the embedded Swift or the test tools.
    closure = runtime_closure("upload-signer")
    assert {"flask", "gunicorn", "prometheus-client", "python-swiftclient"} <= closure
    assert not closure & DEV_ONLY


def test_the_start_command_is_gunicorn_with_the_repository_config(dockerfile):
    assert not instructions(stages(dockerfile)[-1], "ENTRYPOINT")
    assert exec_form(dockerfile.cmd) == START_COMMAND


def test_health_check_probes_healthz_and_the_port_comes_from_the_environment(dockerfile):
    runtime = stages(dockerfile)[-1]
    assert "/healthz" in " ".join(healthcheck_argv(runtime))
    assert dockerfile.envs.get("PORT") == "8000"
    assert "8000" in instructions(runtime, "EXPOSE")


def test_the_build_context_holds_only_what_the_image_copies(dockerfile):
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*", "ignore everything, then allow what is copied"
    allowed = {pattern.lstrip("!").rstrip("/") for pattern in patterns if pattern.startswith("!")}
    for stage in stages(dockerfile):
        for copy in instructions(stage, "COPY"):
            if copy.startswith("--from="):
                continue
            *sources, _destination = copy.split()
            for source in sources:
                assert (ROOT / source).exists(), source
                assert source.rstrip("/") in allowed, f"{source} is not in the build context"
    assert not allowed & {".venv", ".data", ".git", "tests", "bench"}


# -- the commands, run as the image runs them -------------------------------------------------


def image_env(dockerfile: DockerfileParser, swift_env: dict[str, str], tmp: Path) -> dict:
    """The image's ENV, with PATH pointing at this virtualenv instead of /opt/venv."""
    env = {key: value for key, value in dockerfile.envs.items() if key != "PATH"}
    return (
        env
        | swift_env
        | {
            "PATH": f"{BIN}:/usr/bin:/bin",
            "HOME": str(tmp),
            "TMPDIR": str(tmp),
            "API_TOKENS": TOKEN,
            "PORT": str(free_port()),
        }
    )


def workdir_like_the_image(dockerfile: DockerfileParser, tmp: Path) -> Path:
    """A directory with exactly the files the runtime stage copies into its WORKDIR."""
    workdir = tmp / "srv"
    workdir.mkdir()
    for copy in instructions(stages(dockerfile)[-1], "COPY"):
        if not copy.startswith("--from="):
            *sources, _ = copy.split()
            for source in sources:
                shutil.copy(ROOT / source, workdir / source)
    return workdir


def run_healthcheck(argv: list[str], env: dict, cwd: Path) -> int:
    argv = [sys.executable if argv[0] == "python" else argv[0], *argv[1:]]
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, timeout=30).returncode


def test_the_image_command_serves_and_its_health_check_passes(dockerfile, swift, tmp_path):
    env = image_env(dockerfile, swift.env, tmp_path)
    workdir = workdir_like_the_image(dockerfile, tmp_path)
    assert sorted(path.name for path in workdir.iterdir()) == ["gunicorn.conf.py", "wsgi.py"]
    health = healthcheck_argv(stages(dockerfile)[-1])
    base = f"http://127.0.0.1:{env['PORT']}"
    log_path = tmp_path / "stdout.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            exec_form(dockerfile.cmd), cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log_path.read_text()[-2000:]
            try:
                if requests.get(base + "/readyz", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "the image command did not become ready"
            time.sleep(0.1)
        assert run_healthcheck(health, env, workdir) == 0
        response = requests.post(
            base + "/uploads",
            json={"filename": "docker.txt"},
            headers={"Authorization": f"Bearer {TOKEN}", "User-Agent": AGENT},
            timeout=10,
        )
        assert response.status_code == 201
        signed = response.json()
        assert signed["upload_url"].startswith(swift.url)
    finally:
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(30)
    assert returncode == 0, "SIGTERM (docker stop) must shut gunicorn down cleanly"
    # Stopped: the same check now fails, as Docker would mark the container unhealthy.
    assert run_healthcheck(health, env, workdir) != 0

    output = log_path.read_text()
    access = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    # The app's own JSON log lines share the stream; access lines say "type": "access".
    upload = next(e for e in access if e.get("type") == "access" and e["path"] == "/uploads")
    assert upload["method"] == "POST" and upload["status"] == 201
    assert upload["user_agent"] == AGENT  # quotes and backslashes escaped, the line still JSON
    assert upload["duration_ms"] > 0
    # The access line is the audit record of the signed upload: who got which object. The app
    # then writes no second line for it.
    assert upload["object_name"] == signed["object_name"]
    assert upload["subject"].startswith("token:") and TOKEN not in upload["subject"]
    assert "signed upload" not in output
    assert TOKEN not in output
    assert "temp_url_sig" not in output


def test_the_image_command_stops_with_one_line_when_a_setting_is_missing(
    dockerfile, swift, tmp_path
):
    env = image_env(dockerfile, swift.env, tmp_path)
    del env["API_TOKENS"]
    result = subprocess.run(
        exec_form(dockerfile.cmd),
        cwd=workdir_like_the_image(dockerfile, tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "configuration error: API_TOKENS" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.glob("upload-signer-metrics-*")), "the metrics directory is left"

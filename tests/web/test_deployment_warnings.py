"""Start-up warnings about settings whose effect depends on the deployment, once per process."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from app import create_app
from app.observability.logs import JsonFormatter
from app.web import limits
from tests.support.constants import TOKEN
from tests.support.servers import ApiServer

MEMORY = "rate limits count in memory"
PROXIES = "X-Forwarded-For is trusted"


@pytest.fixture
def warnings(monkeypatch, caplog):
    """The warnings logged by app.web.limits, in a process that has not warned yet."""
    monkeypatch.setattr(limits, "_warned", set())
    for name in ("WEB_CONCURRENCY", "SERVER_SOFTWARE"):
        monkeypatch.delenv(name, raising=False)
    caplog.set_level(logging.WARNING, logger=limits.__name__)

    def lines(text: str) -> list[logging.LogRecord]:
        return [
            r
            for r in caplog.records
            if r.name == limits.__name__ and r.levelno == logging.WARNING and text in r.message
        ]

    return lines


def test_memory_counters_with_several_workers_warn_once_as_one_json_line(
    env, monkeypatch, warnings
):
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    settings = env | {"API_TOKENS": TOKEN, "RATE_LIMIT": "10/minute"}
    create_app(settings)
    create_app(settings)
    [record] = warnings(MEMORY)
    assert "WEB_CONCURRENCY=4 processes" in record.getMessage()
    line = JsonFormatter().format(record)
    assert "\n" not in line and json.loads(line)["level"] == "warning"


def test_under_gunicorn_without_a_worker_count_the_default_workers_warn(env, monkeypatch, warnings):
    monkeypatch.setenv("SERVER_SOFTWARE", "gunicorn/23.0.0")
    create_app(env | {"API_TOKENS": TOKEN, "RATE_LIMIT_PER_IP": "10/minute"})
    [record] = warnings(MEMORY)
    assert f"gunicorn workers ({limits.GUNICORN_DEFAULT_WORKERS} by" in record.getMessage()


@pytest.mark.parametrize(
    "extra",
    [
        {"WEB_CONCURRENCY": "1", "RATE_LIMIT": "10/minute"},  # one process counts for all
        {"WEB_CONCURRENCY": "4"},  # no limit set
        {"WEB_CONCURRENCY": "4", "RATE_LIMIT": "10/minute", "RATELIMIT_STORAGE_URI": "redis://x"},
        {"RATE_LIMIT": "10/minute"},  # not under gunicorn: one process
    ],
)
def test_no_memory_warning_when_the_counters_are_whole(env, monkeypatch, warnings, extra):
    if "WEB_CONCURRENCY" in extra:
        monkeypatch.setenv("WEB_CONCURRENCY", extra.pop("WEB_CONCURRENCY"))
    create_app(env | {"API_TOKENS": TOKEN} | extra)
    assert warnings(MEMORY) == []


def test_trusted_proxies_warn_once_naming_the_hops(env, warnings):
    create_app(env | {"API_TOKENS": TOKEN, "TRUSTED_PROXIES": "2"})
    create_app(env | {"API_TOKENS": TOKEN, "TRUSTED_PROXIES": "2"})
    [record] = warnings(PROXIES)
    message = record.getMessage()
    assert "TRUSTED_PROXIES=2" in message and "2 hop" in message
    assert "only through the proxy" in message and "cannot see" in message


def test_no_proxy_warning_without_trusted_proxies(env, warnings):
    create_app(env | {"API_TOKENS": TOKEN})
    assert warnings(PROXIES) == []


def memory_warnings_in(log: Path) -> list[dict]:
    lines = log.read_text().splitlines() if log.exists() else []
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    return [e for e in entries if e.get("level") == "warning" and MEMORY in e["message"]]


def test_each_gunicorn_worker_warns_once_about_memory_counters(swift, tmp_path, monkeypatch):
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    log = tmp_path / "gunicorn.log"
    with ApiServer(swift.env | {"API_TOKENS": TOKEN, "RATE_LIMIT": "10/minute"}, 2, log):
        # /readyz answered from one worker; the other may still be loading the app.
        deadline = time.monotonic() + 30
        while len(memory_warnings_in(log)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    warned = memory_warnings_in(log)
    assert len(warned) == 2, warned  # one per worker
    # gunicorn.conf.py hands the workers the real count (-w 2), WEB_CONCURRENCY being unset.
    assert "WEB_CONCURRENCY=2 processes" in warned[0]["message"]

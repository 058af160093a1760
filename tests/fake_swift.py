"""A minimal Swift account API on requests-mock, for providers no local server can stand in for.

Only what start-up preparation and ``check`` touch: account HEAD/POST, container HEAD/PUT/POST.
It keeps state, checks the token, and records which token and host each request used.
"""

from __future__ import annotations

import re

import requests_mock


class FakeSwiftAccount:
    def __init__(self, mocker: requests_mock.Mocker, storage_url: str, tokens: set[str]) -> None:
        self.storage_url = storage_url.rstrip("/")
        self.tokens = tokens  # tokens the "cluster" accepts right now
        self.account: dict[str, str] = {}
        self.containers: dict[str, dict[str, str]] = {}
        self.seen_tokens: list[str] = []
        base = re.escape(self.storage_url)
        account = re.compile(f"^{base}/?$")
        container = re.compile(f"^{base}/([^/?]+)/?$")
        for method in ("HEAD", "POST"):
            mocker.register_uri(method, account, text=self._account)
        for method in ("HEAD", "PUT", "POST"):
            mocker.register_uri(method, container, text=self._container)

    @staticmethod
    def _text(value: str | bytes) -> str:
        return value.decode() if isinstance(value, bytes) else value  # swiftclient sends bytes

    def _authorized(self, request, context) -> bool:
        token = self._text(request.headers.get("X-Auth-Token", ""))
        self.seen_tokens.append(token)
        if token not in self.tokens:
            context.status_code = 401
            return False
        return True

    @classmethod
    def _meta(cls, request, prefix: str) -> dict[str, str]:
        headers = {cls._text(k).lower(): cls._text(v) for k, v in request.headers.items()}
        return {k: v for k, v in headers.items() if k.startswith(prefix)}

    def _account(self, request, context) -> str:
        if not self._authorized(request, context):
            return ""
        if request.method == "POST":
            self.account |= self._meta(request, "x-account-meta-")
            context.status_code = 204
        else:
            context.status_code = 204
            context.headers.update(self.account | {"X-Account-Container-Count": "0"})
        return ""

    def _container(self, request, context) -> str:
        if not self._authorized(request, context):
            return ""
        name = request.path.rstrip("/").rsplit("/", 1)[-1]
        meta = self._meta(request, "x-container-meta-")
        removed = {
            k.replace("x-remove-", "x-") for k in self._meta(request, "x-remove-container-meta-")
        }
        if request.method == "PUT":
            context.status_code = 202 if name in self.containers else 201
            self.containers.setdefault(name, {}).update(meta)
        elif name not in self.containers:
            context.status_code = 404
        elif request.method == "POST":
            current = self.containers[name]
            current.update(meta)
            for key in removed:
                current.pop(key, None)
            context.status_code = 204
        else:
            context.status_code = 204
            context.headers.update(self.containers[name] | {"X-Container-Object-Count": "0"})
        return ""

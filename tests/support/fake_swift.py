"""A minimal Swift account API on requests-mock, for providers no local server can stand in for.

Only what start-up preparation and ``check`` touch: account HEAD/POST, container HEAD/PUT/POST,
objects through TempURLs (signature checked against the account keys, CORS preflight against the
container's allowed origins) and DELETE with a token, and ``GET /info``. It keeps state, checks
the token, and records which token each request used. The real behaviour these copy is proven
against the embedded Swift (tests/test_check.py, tests/test_uploads.py).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from urllib.parse import parse_qs, unquote, urlsplit

import requests_mock

DIGESTS = {40: hashlib.sha1, 64: hashlib.sha256}


class FakeSwiftAccount:
    def __init__(
        self, mocker: requests_mock.Mocker, storage_url: str, tokens: set[str], *more_urls: str
    ) -> None:
        self.storage_url = storage_url.rstrip("/")
        self.tokens = tokens  # tokens the "cluster" accepts right now
        self.account: dict[str, str] = {}
        self.containers: dict[str, dict[str, str]] = {}
        self.objects: dict[str, bytes] = {}
        self.seen_tokens: list[str] = []
        for url in (self.storage_url, *more_urls):  # e.g. public and ServiceNet URLs
            base = re.escape(url.rstrip("/"))
            account = re.compile(f"^{base}/?$")
            container = re.compile(f"^{base}/([^/?]+)/?$")
            obj = re.compile(f"^{base}/[^/?]+/.+")
            for method in ("HEAD", "POST"):
                mocker.register_uri(method, account, text=self._account)
            for method in ("HEAD", "PUT", "POST"):
                mocker.register_uri(method, container, text=self._container)
            for method in ("OPTIONS", "PUT", "GET", "DELETE"):
                mocker.register_uri(method, obj, content=self._object)
            parts = urlsplit(url)
            mocker.get(
                f"{parts.scheme}://{parts.netloc}/info",
                json={
                    "swift": {"version": "2.38.3"},
                    "tempurl": {"allowed_digests": ["sha1", "sha256"]},
                },
            )

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
            # Swift sends header names title-cased (X-Account-Meta-Temp-Url-Key).
            context.headers.update({k.title(): v for k, v in self.account.items()})
            context.headers["X-Account-Container-Count"] = "0"
        return ""

    def _container(self, request, context) -> str:
        if not self._authorized(request, context):
            return ""
        name = urlsplit(request.url).path.rstrip("/").rsplit("/", 1)[-1]
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
            context.headers.update({k.title(): v for k, v in self.containers[name].items()})
            context.headers["X-Container-Object-Count"] = "0"
        return ""

    def _tempurl_ok(self, request, method: str) -> bool:
        query = parse_qs(urlsplit(request.url).query)
        sig, expires = query.get("temp_url_sig", [""])[0], query.get("temp_url_expires", [""])[0]
        body = f"{method}\n{expires}\n{unquote(urlsplit(request.url).path)}".encode()
        digest = DIGESTS.get(len(sig))
        keys = [self.account.get(f"x-account-meta-temp-url-key{s}") for s in ("", "-2")]
        return digest is not None and any(
            key and hmac.compare_digest(hmac.new(key.encode(), body, digest).hexdigest(), sig)
            for key in keys
        )

    def _object(self, request, context) -> bytes:
        path = unquote(urlsplit(request.url).path)  # request.path is lower-cased
        name = path.split("/", 4)[-1]  # /v1/<account>/<container>/<object>
        container = path.split("/")[3]
        allowed = self.containers.get(container, {}).get(
            "x-container-meta-access-control-allow-origin", ""
        )
        origin = request.headers.get("Origin")
        if request.method == "OPTIONS":
            if origin and origin in allowed.split():
                context.headers["Access-Control-Allow-Origin"] = origin
                context.status_code = 200
            else:
                context.status_code = 401
            return b""
        if request.method == "DELETE":
            if not self._authorized(request, context):
                return b""
            context.status_code = 204 if self.objects.pop(name, None) is not None else 404
            return b""
        if not self._tempurl_ok(request, request.method):
            context.status_code = 401
            return b""
        if request.method == "PUT":
            self.objects[name] = request.body or b""
            context.status_code = 201
            return b""
        if name not in self.objects:
            context.status_code = 404
            return b""
        filename = parse_qs(urlsplit(request.url).query).get("filename")
        if filename:
            context.headers["Content-Disposition"] = f'attachment; filename="{filename[0]}"'
        return self.objects[name]

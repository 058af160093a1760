"""Start-up and recovery against a real Swift: down at start, restarted, many workers at once."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import requests

from app import create_app
from app.embedded.node import free_port
from tests.support.constants import TOKEN
from tests.support.servers import ApiServer, StorageServer

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def eventually(check: Callable[[], bool], timeout: float = 45) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_the_service_starts_without_storage_and_heals_when_it_comes(tmp_path):
    storage = StorageServer(tmp_path / "swift", port=free_port())
    env = storage.start()  # once, to have credentials; then the store goes away
    storage.stop()
    client = create_app(env | {"API_TOKENS": TOKEN, "READY_CACHE_SECONDS": "0"}).test_client()
    try:
        down = client.get("/readyz")
        assert down.status_code == 503
        assert "storage unreachable" in down.get_json()["detail"]
        assert client.post("/uploads", json={"filename": "a"}, headers=AUTH).status_code == 503

        storage.start()
        assert eventually(lambda: client.get("/readyz").status_code == 200)
        answer = client.post("/uploads", json={"filename": "a.txt"}, headers=AUTH).get_json()
        assert requests.put(answer["upload_url"], data=b"healed", timeout=10).status_code == 201

        # A store that goes away and comes back: readiness follows, signing never stops.
        storage.stop()
        assert client.get("/readyz").status_code == 503
        assert client.post("/uploads", json={"filename": "b.txt"}, headers=AUTH).status_code == 201
        storage.start()
        assert eventually(lambda: client.get("/readyz").status_code == 200)
        # The first token died with the old proxy: the client re-authenticated by itself.
        later = client.post("/uploads", json={"filename": "c.txt"}, headers=AUTH).get_json()
        assert requests.put(later["upload_url"], data=b"again", timeout=10).status_code == 201
        done = client.post(f"/uploads/{answer['upload_id']}/complete", headers=AUTH)
        assert done.status_code == 200
        assert requests.get(answer["download_url"], timeout=10).content == b"healed"
    finally:
        storage.stop()


def test_workers_and_instances_starting_together_sign_with_one_key(tmp_path):
    """Six workers in two instances prepare a fresh account at once; every URL must verify."""
    with StorageServer(tmp_path / "swift") as storage:
        env = storage.env | {"API_TOKENS": TOKEN}
        first, second = ApiServer(env, workers=4), ApiServer(env, workers=2)
        try:
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(lambda server: server.start(), (first, second)))

            def upload(i: int) -> int:
                server = (first, second)[i % 2]
                answer = requests.post(
                    server.url + "/uploads", json={"filename": f"{i}.txt"}, headers=AUTH, timeout=10
                ).json()
                return requests.put(answer["upload_url"], data=b"k", timeout=10).status_code

            with ThreadPoolExecutor(8) as pool:
                statuses = list(pool.map(upload, range(48)))
            assert statuses == [201] * 48
        finally:
            first.stop()
            second.stop()

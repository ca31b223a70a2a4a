"""/healthz: 200 when the database and the broker answer, else 503."""

import shutil
import subprocess
import time

import pytest

pytestmark = pytest.mark.django_db


def test_healthz_is_503_and_names_the_broker_when_it_is_down(
    client, settings, tmp_path
):
    settings.CELERY_BROKER_URL = f"redis+socket://{tmp_path}/nobody-listens.sock"

    started = time.monotonic()
    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["database"] == "ok"
    assert response.json()["broker"].startswith("error")
    assert time.monotonic() - started < 10


@pytest.fixture
def throwaway_redis(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed: run devstack/up, which installs it")
    socket_path = tmp_path / "redis.sock"
    server = subprocess.Popen(
        [
            *("redis-server", "--port", "0", "--unixsocket", str(socket_path)),
            *("--save", "", "--appendonly", "no"),
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not socket_path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"redis+socket://{socket_path}"
    server.terminate()
    server.wait(10)


def test_healthz_is_200_with_a_live_broker_on_a_unix_socket(
    client, settings, throwaway_redis
):
    settings.CELERY_BROKER_URL = throwaway_redis

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok"}

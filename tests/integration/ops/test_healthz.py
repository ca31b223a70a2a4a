"""/healthz answers for the real database and broker, and says which is down."""

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_healthz_is_ok_with_the_devstack_broker(client, devstack):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok"}


def test_healthz_is_503_when_the_broker_does_not_answer(client, settings, tmp_path):
    settings.CELERY_BROKER_URL = f"redis+socket://{tmp_path}/nobody-listens.sock"

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["database"] == "ok"
    assert response.json()["broker"] != "ok"

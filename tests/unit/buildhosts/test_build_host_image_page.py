"""The admins' page for build-host images with registry CAs embedded."""

from unittest import mock

import pytest
from django.test import Client

from hosts.models import Build, BuildHostImage, Endpoint, Registry

pytestmark = pytest.mark.django_db

CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@pytest.fixture
def world(data_dir):
    endpoint = Endpoint.objects.create(
        name="e",
        docker_url="unix:///nonexistent.sock",
        tls_mode="none",
        publish_host="127.0.0.1",
        default_image="registry.test:5443/p/dch-photon:1",
    )
    registry = Registry.objects.create(
        name="r", address="registry.test:5443", project="p", ca_pem=CA
    )
    return endpoint, registry


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def test_developers_are_refused(developer, world):
    assert signed_in(developer).get("/build-host-images/").status_code == 403


def test_an_admin_builds_an_image_and_it_is_listed(admin, world):
    endpoint, registry = world
    client = signed_in(admin)
    with mock.patch("hosts.builds.tasks.run_build.delay"):
        answer = client.post(
            "/build-host-images/",
            {"endpoint": endpoint.pk, "registries": [registry.pk], "tag": "t1"},
        )
    assert answer.status_code == 302
    image = BuildHostImage.objects.get()
    assert image.ref == "registry.test:5443/p/dch-photon-ca:t1"
    assert Build.objects.get().tags == [image.ref]
    page = client.get("/build-host-images/")
    assert image.ref in page.content.decode()
    assert 'hx-trigger="every 2s"' in page.content.decode()  # building: it polls


def test_a_request_without_registries_is_a_form_error(admin, world):
    endpoint, _ = world
    answer = signed_in(admin).post("/build-host-images/", {"endpoint": endpoint.pk})
    assert answer.status_code == 400
    assert "This field is required" in answer.content.decode()


def test_only_a_ready_image_becomes_a_default(admin, world):
    endpoint, _ = world
    image = BuildHostImage.objects.create(
        ref="registry.test:5443/p/x:1", base_image="b"
    )
    client = signed_in(admin)
    url = f"/build-host-images/{image.pk}/default/"

    client.post(url, {"endpoint_id": endpoint.pk})
    endpoint.refresh_from_db()
    assert endpoint.default_image == "registry.test:5443/p/dch-photon:1"

    image.state = "ready"
    image.save()
    client.post(url, {"endpoint_id": endpoint.pk})
    endpoint.refresh_from_db()
    assert endpoint.default_image == image.ref


@pytest.mark.parametrize("chosen", ["", "abc", "1e3", "9" * 40, "-1"])
def test_a_default_for_no_such_endpoint_id_is_a_message(admin, world, chosen):
    endpoint, _ = world
    image = BuildHostImage.objects.create(
        ref="registry.test:5443/p/x:1", base_image="b", state="ready"
    )
    client = signed_in(admin)

    answer = client.post(
        f"/build-host-images/{image.pk}/default/", {"endpoint_id": chosen}, follow=True
    )

    assert answer.status_code == 200
    assert "Choose an endpoint." in answer.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.default_image == "registry.test:5443/p/dch-photon:1"

"""CSRF on the pages: with a signed-in session, a POST to any page URL
without the CSRF token is refused (403, Django's CSRF failure), and with the
token, sent the way the HTMX pages send it (the X-CSRFToken header that
base.html's hx-headers adds to every request), it is not refused for CSRF.

The URLs are every pattern in hosts/urls.py (plus sign-in and sign-out), with
their path parameters filled with real rows, so a page added later is covered
(a pattern with a parameter not known here fails, asking for a value)."""

import pytest
from django.test import Client
from django.urls import URLPattern, reverse
from django.utils import timezone

from hosts import urls as page_urls
from hosts.accounts import commands as accounts
from hosts.models import (
    Build,
    BuildHost,
    BuildHostImage,
    Certificate,
    CleanupItem,
    CleanupPlan,
    Deployment,
    Endpoint,
    Notification,
    PushedImage,
    Registry,
    Webhook,
    WebhookDelivery,
)

pytestmark = [pytest.mark.badinput, pytest.mark.django_db, pytest.mark.timeout(120)]

ENDPOINT_ACTIONS = ("probe", "disable", "enable")
EXTRA = [("login", {}), ("logout", {})]


@pytest.fixture
def rows(admin):
    endpoint = Endpoint.objects.create(
        name="csrf",
        docker_url="tcp://127.0.0.1:1",  # refuses at once
        tls_mode=Endpoint.TlsMode.NONE,
        publish_host="127.0.0.1",
    )
    registry = Registry.objects.create(name="csrf", address="127.0.0.1:1")
    host = BuildHost.objects.create(
        owner=admin,
        endpoint=endpoint,
        name="csrf",
        image="registry.test:5443/p/i:1",
        state=BuildHost.State.READY,
        expires_at=timezone.now() + timezone.timedelta(hours=1),
    )
    image = BuildHostImage.objects.create(
        ref="127.0.0.1:1/p/dch:1", base_image="x", created_by=admin
    )
    digest = "sha256:" + "0" * 64
    build = Build.objects.create(
        owner=admin,
        build_host=host,
        tags=["127.0.0.1:1/p/app:1"],
        state=Build.State.SUCCEEDED,
        digest=digest,
    )
    deployment = Deployment.objects.create(
        owner=admin, endpoint=endpoint, image=f"127.0.0.1:1/p/app@{digest}"
    )
    api_token, _ = accounts.create_api_token(admin, "csrf", actor=None, source="cli")
    return {
        "build_host_id": host.pk,
        "endpoint_id": endpoint.pk,
        "registry_id": registry.pk,
        "image_id": image.pk,
        "build_id": build.pk,
        "deployment_id": deployment.pk,
        "token_id": api_token.pk,
        "pushed_image_id": PushedImage.objects.create(
            owner=admin,
            reference="127.0.0.1:1/p/app:1",  # refuses at once
            repository="p/app",
            digest=digest,
        ).pk,
        "certificate_id": Certificate.objects.create(
            name="csrf",
            pem="-",
            subject="CN=csrf",
            issuer="CN=csrf",
            not_before=timezone.now(),
            not_after=timezone.now() + timezone.timedelta(days=1),
            fingerprint="00",
            kind=Certificate.Kind.CA,
        ).pk,
        # Done: executing it again changes nothing.
        "plan_id": CleanupPlan.objects.create(
            planned_by=admin, state=CleanupPlan.State.DONE
        ).pk,
        # An item of that plan (done: an answer is refused, nothing changes).
        "item_id": CleanupItem.objects.create(
            plan=CleanupPlan.objects.filter(planned_by=admin).first(),
            endpoint=endpoint,
            volume_name="csrf",
            reason="orphaned",
            owner_name=admin.get_username(),
        ).pk,
        **_webhook_rows(),
    }


def _webhook_rows():
    webhook = Webhook(name="csrf", url="http://127.0.0.1:1/", events=["endpoint.on"])
    webhook.set_secret("csrf-secret-of-16-chars")
    webhook.save()
    notification = Notification.objects.create(event="endpoint.on")
    delivery = WebhookDelivery.objects.create(
        webhook=webhook, notification=notification
    )
    return {"webhook_id": webhook.pk, "delivery_id": delivery.pk}


def page_urls_to_post(rows):
    """(name, url) for every pattern, its parameters filled from `rows`."""
    found = []
    for pattern in page_urls.urlpatterns:
        assert isinstance(pattern, URLPattern), f"an include in urls: {pattern}"
        names = list(pattern.pattern.converters)
        if "action" in names:
            variants = [{"action": action} for action in ENDPOINT_ACTIONS]
        else:
            variants = [{}]
        for extra in variants:
            missing = [n for n in names if n not in rows and n not in extra]
            assert not missing, f"{pattern.name}: give test_csrf a value for {missing}"
            kwargs = {n: rows[n] for n in names if n in rows} | extra
            found.append((pattern.name, reverse(pattern.name, kwargs=kwargs)))
    return found + [(name, reverse(name, kwargs=kwargs)) for name, kwargs in EXTRA]


@pytest.fixture
def session(admin):
    """A signed-in browser: a session cookie and a CSRF cookie, as after
    loading any page."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    assert client.get("/").status_code == 200
    return client, client.cookies["csrftoken"].value


def is_csrf_refusal(response):
    return response.status_code == 403 and b"CSRF" in response.content


def test_every_post_without_the_token_is_refused_and_with_it_is_not(session, rows):
    client, token = session
    accepting_post = []
    for name, url in page_urls_to_post(rows):
        refused = client.post(url, {}, HTTP_HX_REQUEST="true")
        assert is_csrf_refusal(refused), (name, url, refused.status_code)

        wrong = client.post(
            url, {}, HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN="x" * len(token)
        )
        assert is_csrf_refusal(wrong), (name, url, wrong.status_code)

        answered = client.post(url, {}, HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=token)
        assert not is_csrf_refusal(answered), (name, url, answered.content[:300])
        if answered.status_code != 405:
            accepting_post.append(name)
        if name == "logout":
            break  # the session is gone; nothing after it (EXTRA's last)
    # The pages that take a POST really were among those checked.
    for name in (
        "build_hosts",
        "build_host_extend",
        "build_host_resume",
        "build_host_stop",
        "build_host_remove",
        "endpoints",
        "endpoint_action",
        "registries",
        "registry_check",
        "certificates",
        "certificate_authority_rotate",
        "build_new",
        "build_cancel",
        "build_deploy",
        "build_deployment_remove",
        "webhooks",
        "webhook_redeliver",
        "webhook_active",
        "webhook_delete",
    ):
        assert name in accepting_post, name


def test_a_plain_form_post_needs_the_token_too(session):
    """Without HTMX (a form posted by hand): the form field carries it."""
    client, token = session
    url = reverse("certificates")
    assert is_csrf_refusal(client.post(url, {"name": "x", "pem": "x"}))
    answered = client.post(url, {"name": "x", "pem": "x", "csrfmiddlewaretoken": token})
    assert not is_csrf_refusal(answered)
    assert answered.status_code == 400  # the bad PEM, not the token

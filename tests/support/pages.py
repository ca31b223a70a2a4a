"""Every page of the dashboard, in one list, and a world of rows that gives
each of them something to show (the layout and accessibility tests walk it).

A new page is one line in PAGES: its path, with `{name}` for an id of the
world below, and who may open it."""

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from hosts.accounts import commands as accounts
from hosts.certificates import commands as certificates
from hosts.core import audit, installation
from hosts.models import (
    Build,
    BuildHost,
    BuildHostImage,
    CleanupItem,
    CleanupPlan,
    Notification,
    PushedImage,
    RegistryTrust,
    Volume,
    Webhook,
    WebhookDelivery,
)
from hosts.notifications import payloads
from tests.support import pki, world

DEVELOPER = "developer"
ADMIN = "admin"
ANYONE = "anyone"  # signed out


@dataclass(frozen=True)
class Page:
    path: str
    who: tuple = (DEVELOPER, ADMIN)


PAGES = [
    Page("/accounts/login/", who=(ANYONE,)),
    Page("/"),
    Page("/build-hosts/"),
    Page("/build-hosts/{build_host}/"),
    # Stopped for idleness: its words and the Resume button.
    Page("/build-hosts/{stopped_build_host}/"),
    Page("/builds/"),
    Page("/builds/new/"),
    Page("/builds/{build}/"),
    Page("/endpoints/"),
    Page("/endpoints/{endpoint}/edit/", who=(ADMIN,)),
    # The confirmations: each lists what still uses its object.
    Page("/endpoints/{endpoint}/delete/", who=(ADMIN,)),
    Page("/registries/{registry}/delete/", who=(ADMIN,)),
    Page("/certificates/{certificate}/delete/", who=(ADMIN,)),
    # with the registry trust matrix (/registries/trust/ is only its fragment)
    Page("/registries/"),
    Page("/certificates/"),
    # A developer's: their own volumes, and the notice asking about one.
    Page("/volumes/"),
    Page("/volumes/notices/"),
    Page("/volumes/plans/{plan}/", who=(ADMIN,)),
    Page("/volumes/plans/{notice_plan}/", who=(ADMIN,)),
    Page("/build-host-images/", who=(ADMIN,)),
    Page("/audit/", who=(ADMIN,)),
    Page("/images/"),
    Page("/account/tokens/"),
    # With a delivery log: delivered, failed with a long answer, sent again.
    Page("/webhooks/", who=(ADMIN,)),
    Page("/webhooks/{webhook}/", who=(ADMIN,)),
    Page("/webhooks/{webhook}/delete/", who=(ADMIN,)),
    Page("/account/notifications/"),
]

USERS = {
    DEVELOPER: ("alice", "alice-password-1"),
    ADMIN: ("root", "root-password-1"),
}

# What a long id looks like: a digest, an anonymous volume's name.
DIGEST = "sha256:" + "3f6c" * 16
ANONYMOUS_VOLUME = "9b1e" * 16


def pages_for(who, ids):
    """The paths `who` may open, with the world's ids filled in."""
    return [page.path.format(**ids) for page in PAGES if who in page.who]


def make_world(developer, admin):
    """Rows for every page, owned by `developer` (and planned by `admin`),
    on an endpoint nobody can reach: nothing here talks to an engine.
    Returns the ids PAGES' paths name."""
    endpoint = world.unreachable_endpoint("local", default_image="dch-photon:test")
    registry = world.devstack_registry(
        {
            "registry": "registry.test:5443",
            "registry_ca": pki.make_ca("registry CA").cert_pem,
            "registry_user": "pusher",
            "registry_password": "pusher-password",
        }
    )
    RegistryTrust.objects.create(endpoint=endpoint, registry=registry, ok=True)
    certificate = certificates.create_certificate(
        admin,
        "corporate root",
        pki.make_ca("Corporate Root CA").cert_pem.decode(),
        source="cli",
    )
    host = BuildHost.objects.create(
        owner=developer,
        endpoint=endpoint,
        name="bh-alice",
        image="dch-photon:test",
        state=BuildHost.State.READY,
        port=32768,
        container_id="c0ffee" * 10,
        expires_at=timezone.now() + timedelta(hours=8),
        # Its page shows the lease line (and polls while the lease counts).
        lease_seconds=3600,
        lease_expires_at=timezone.now() + timedelta(minutes=50),
        # Its page shows the placement, pool and cache lines too: long words
        # that must wrap at 390 px.
        placement="any endpoint: local, where your build cache is (preferred "
        "over a ready pool host: the cache keeps your pulled images and build "
        "steps)",
        from_pool=True,
        claimed_at=timezone.now() - timedelta(minutes=5),
        volume_policy=BuildHost.VolumePolicy.CACHE,
        cache_volume="dchweb-0123456789ab-data",
    )
    build = Build.objects.create(
        owner=developer,
        build_host=host,
        endpoint=endpoint,
        registry=registry,
        context_name="context.tar.gz",
        tags=["registry.test:5443/default-project/hello:1.0"],
        state=Build.State.SUCCEEDED,
        image_id=DIGEST,
        digest=DIGEST,
        finished_at=timezone.now(),
    )
    PushedImage.objects.record_push(build, build.tags[0], DIGEST, size_bytes=5 << 20)
    accounts.create_api_token(developer, "ci", actor=None, source="cli")
    BuildHostImage.objects.create(
        ref="registry.test:5443/default-project/dch-photon:trusting",
        base_image="dch-photon:test",
        digest=DIGEST,
        created_by=admin,
    )
    volume = Volume.objects.create(
        endpoint=endpoint,
        name=ANONYMOUS_VOLUME,
        status=Volume.Status.ORPHANED,
        managed=True,
        anonymous=True,
        role="docker-data",
        owner_name=developer.username,
        size_bytes=512 * 1024 * 1024,
    )
    plan = CleanupPlan.objects.create(
        planned_by=admin,
        rule={"volumes": [[endpoint.pk, volume.name]]},
        total_bytes=volume.size_bytes,
    )
    CleanupItem.objects.create(
        plan=plan,
        endpoint=endpoint,
        volume_name=volume.name,
        reason="orphaned",
        size_bytes=volume.size_bytes,
    )
    make_cache_near_budget(developer, endpoint)
    stopped = make_stopped_host(developer, endpoint)
    notice_plan = make_notice(admin, developer, endpoint)
    record_audit_events(admin, host, build, volume)
    record_notifications(developer, host, build, endpoint)
    return {
        "build_host": host.pk,
        "stopped_build_host": stopped.pk,
        "build": build.pk,
        "plan": plan.pk,
        "notice_plan": notice_plan.pk,
        "endpoint": endpoint.pk,
        "registry": registry.pk,
        "certificate": certificate.pk,
        "webhook": make_webhook(admin).pk,
    }


def make_cache_near_budget(developer, endpoint):
    """A cache volume that keeps the developer past 80 % of the default
    budget (50 GB): / and /volumes/ show them the budget warning."""
    Volume.objects.create(
        endpoint=endpoint,
        name=f"{developer.username}-cache-" + "7a2d" * 8,
        status=Volume.Status.ORPHANED,
        managed=True,
        installation=installation.installation_id(),
        role="cache",
        owner_name=developer.username,
        size_bytes=42 * 1000**3,
    )


def make_stopped_host(developer, endpoint):
    """A host the idle pass stopped (its timeline's stop step done)."""
    host = BuildHost.objects.create(
        owner=developer,
        endpoint=endpoint,
        name="bh-alice-idle",
        image="dch-photon:test",
        state=BuildHost.State.STOPPED,
        container_id="decaf" * 12,
        expires_at=timezone.now() + timedelta(hours=6),
        stopped_at=timezone.now() - timedelta(minutes=5),
        last_activity_at=timezone.now() - timedelta(minutes=65),
    )
    host.steps.create(
        name="stop",
        status="done",
        finished_at=timezone.now(),
        detail="no activity for 60 minutes; volumes kept",
    )
    return host


def record_audit_events(admin, host, build, volume, count=3):
    """Audit events with the kinds of details dchweb records: long digests,
    lists, nested rules, URLs."""
    for _ in range(count):
        audit.record(
            None,
            "build.pushed",
            build,
            {"tag": build.tags[0], "digest": DIGEST},
            source="task",
        )
        audit.record(
            None,
            "build_host.ready",
            host,
            {"docker_host": "tcp://127.0.0.1:32768", "request": str(uuid.uuid4())},
            source="task",
        )
        audit.record(
            admin,
            "cleanup.planned",
            volume,
            {"rule": {"volumes": [[1, volume.name]]}, "volumes": 1, "bytes": 536870912},
            source="ui",
        )


def record_notifications(developer, host, build, endpoint):
    """What /account/notifications/ lists: one mailed, one whose mail failed
    (with a long reason), and one for the admins. Written as rows, not
    emitted: no worker is asked to tell anyone."""
    build.error = "the registry refused the login: " + "unauthorized " * 20
    Notification.objects.create(
        event="build_host.ready",
        object=payloads.build_host("build_host.ready", host),
        owner=developer,
        mail_state=Notification.MailState.SENT,
    )
    Notification.objects.create(
        event="build.failed",
        object=payloads.build("build.failed", build),
        owner=developer,
        mail_state=Notification.MailState.FAILED,
        mail_error="Try 3 of 3: the mail server refused the connection "
        "([Errno 111] Connection refused)",
    )
    Notification.objects.create(
        event="endpoint.off",
        object=payloads.endpoint("endpoint.off", endpoint, error="nothing answers"),
        mail_state=Notification.MailState.NONE,
    )


def make_notice(admin, developer, endpoint):
    """An admin's plan sent to the owners: the developer has kept one volume
    (with a long reason), released none, and not answered another."""
    now = timezone.now()
    plan = CleanupPlan.objects.create(
        planned_by=admin,
        rule={"status": "orphaned"},
        state=CleanupPlan.State.NOTICE,
        notice_days=3,
        notice_ends_at=now + timedelta(days=3),
        keep_days_allowed=14,
        total_bytes=3 << 30,
    )
    for name, answer in (("dchweb-" + "7c2a" * 8 + "-data", "keep"), ("cache-x", "")):
        CleanupItem.objects.create(
            plan=plan,
            endpoint=endpoint,
            volume_name=name,
            owner_name=developer.username,
            reason="orphaned: dchweb's (docker-data of alice), not attached since "
            "2026-11-30 10:00",
            size_bytes=3 << 29,
            answer=answer,
            answer_reason="the nightly cache " * 8 if answer else "",
            keep_until=now + timedelta(days=14) if answer else None,
            answered_at=now if answer else None,
        )
    return plan


def make_webhook(admin):
    """A webhook with a long URL, every event, and a log: one delivered, one
    failed after 8 tries (a long answer), and that one sent again (waiting,
    so the log polls). Rows only: nothing is posted."""
    webhook = Webhook(
        name="team chat",
        url="https://chat.example.com/hooks/" + "b7e1" * 16,
        events=list(Notification.Event.values),
        format=Webhook.Format.SLACK,
        created_by=admin,
    )
    webhook.set_secret("pages-secret-of-16-chars")
    webhook.save()
    notification = Notification.objects.create(
        event="build.succeeded", object={"name": "web", "owner": "alice"}
    )
    State = WebhookDelivery.State
    WebhookDelivery.objects.create(
        webhook=webhook,
        notification=notification,
        state=State.DELIVERED,
        tries=1,
        response_code=204,
        delivered_at=timezone.now(),
    )
    failed_notification = Notification.objects.create(
        event="endpoint.off", object={"name": "vch-1"}
    )
    failed = WebhookDelivery.objects.create(
        webhook=webhook,
        notification=failed_notification,
        state=State.FAILED,
        tries=8,
        response_code=500,
        last_error="the receiver answered 500 Internal Server Error: "
        + "upstream-timeout " * 12,
    )
    WebhookDelivery.objects.create(
        webhook=webhook,
        notification=failed_notification,
        redelivery_of=failed,
        state=State.RETRYING,
        tries=1,
        last_error="nothing answers at that address (connection refused)",
        next_try_at=timezone.now() + timedelta(minutes=1),
    )
    return webhook

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
from hosts.core import audit
from hosts.models import (
    Build,
    BuildHost,
    BuildHostImage,
    CleanupItem,
    CleanupPlan,
    PushedImage,
    RegistryTrust,
    Volume,
)
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
    Page("/volumes/", who=(ADMIN,)),
    Page("/volumes/plans/{plan}/", who=(ADMIN,)),
    Page("/build-host-images/", who=(ADMIN,)),
    Page("/audit/", who=(ADMIN,)),
    Page("/images/"),
    Page("/account/tokens/"),
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
    record_audit_events(admin, host, build, volume)
    return {
        "build_host": host.pk,
        "build": build.pk,
        "plan": plan.pk,
        "endpoint": endpoint.pk,
        "registry": registry.pk,
        "certificate": certificate.pk,
    }


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

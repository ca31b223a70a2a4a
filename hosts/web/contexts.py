"""Context several pages share: the lists and forms that appear on more
than one page (home, /build-hosts/, /builds/, a build host's page). The
queries run here, in the views, never in template tags."""

from django.utils import timezone

from hosts.buildhosts import commands as buildhosts
from hosts.models import Build, BuildHost

MY_BUILDS_SIZE = 10


def with_expiry(hosts):
    """The hosts as a list, each marked when it expires soon."""
    hosts = list(hosts)
    now = timezone.now()
    for host in hosts:
        host.expiring = buildhosts.expires_soon(host, now)
    return hosts


def my_build_hosts_context(user):
    """Home: the user's build hosts that are there (running, on their way,
    stopped); live while one is changing."""
    hosts = with_expiry(
        BuildHost.objects.filter(
            owner=user, state__in=BuildHost.HELD_STATES
        ).select_related("endpoint")
    )
    return {
        "my_hosts": hosts,
        "my_polling": any(not host.is_settled for host in hosts),
    }


def my_builds_context(user, size=MY_BUILDS_SIZE):
    """The user's newest builds; live while one is not final."""
    mine = list(Build.objects.filter(owner=user).select_related("build_host")[:size])
    return {
        "my_builds": mine,
        "my_builds_polling": any(not build.is_final for build in mine),
    }


def build_form_context(form):
    """A build form (hosts/web/forms.py: BuildForm) and whether to offer it:
    on a build host, once it runs; until then its place polls while the host
    is provisioned."""
    host = form.host
    return {
        "form": form,
        "host": host,
        # A refused form always comes back, to say why.
        "buildable": host is None or host.is_running or form.is_bound,
        # A host resumed after an idle stop comes back like a new one.
        "waiting": host is not None
        and (host.state in BuildHost.WAITING_STATES or host.is_resuming),
    }

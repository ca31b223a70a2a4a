"""Sign-in against an LDAP directory (OpenLDAP, Active Directory), on top of
django-auth-ldap. The settings (`AUTH_LDAP_*`, `DCHWEB_LDAP_GROUPS`) come from
the `DCHWEB_LDAP_*` variables in dchweb/settings.py, which also puts
`DirectoryBackend` before Django's ModelBackend when a server is configured.

- A person's Django user is made at their first directory sign-in.
- At every directory sign-in, the Django groups `developers` and `admins` are
  set to exactly what the directory says (DCHWEB_LDAP_GROUPS maps each to an
  LDAP group DN): taken out of the LDAP admins group, out of `admins` at the
  next sign-in. Other Django groups are left alone.
- A directory that cannot be asked (down, refusing the service account, a
  wrong base) is no 500: the backend answers "no" and local accounts still
  sign in through ModelBackend. The request is marked, so that the login page
  can say that directory sign-in is unavailable right now.
"""

import logging

import ldap
import ldap.dn
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django_auth_ldap.backend import LDAPBackend, ldap_error

logger = logging.getLogger(__name__)

# Set on the request when the directory could not be asked during a sign-in;
# the login template reads it.
UNAVAILABLE_ATTR = "directory_unavailable"


class DirectoryBackend(LDAPBackend):
    """django-auth-ldap's backend, with the mapped groups set at each sign-in."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        user = super().authenticate(
            request, username=username, password=password, **kwargs
        )
        if user is None:
            return None
        try:
            member_of = normalized_dns(user.ldap_user.group_dns)
        except ldap.LDAPError as error:
            # The password was right but the groups cannot be read: no
            # sign-in with stale roles.
            directory_failed(type(self), "group_dns", user, request, error)
            return None
        sync_groups(user, member_of)
        return user


def normalized_dns(dns) -> set[str]:
    return {normalized_dn(dn) for dn in dns}


def normalized_dn(dn: str) -> str:
    """One spelling of a DN: lower case, no blanks around `,` and `=`."""
    try:
        return ldap.dn.dn2str(ldap.dn.str2dn(dn.lower()))
    except ldap.DECODING_ERROR:
        return dn.strip().lower()


@transaction.atomic
def sync_groups(user, member_of: set[str]) -> None:
    """Give `user` exactly the mapped Django groups whose LDAP group they are
    in (`member_of`: normalized DNs), and none of the other mapped ones."""
    mapping = getattr(settings, "DCHWEB_LDAP_GROUPS", {})
    want = {
        name for name, dn in mapping.items() if dn and normalized_dn(dn) in member_of
    }
    have = set(
        user.groups.filter(name__in=list(mapping)).values_list("name", flat=True)
    )
    for name in want - have:
        group, _ = Group.objects.get_or_create(name=name)
        user.groups.add(group)
    if have - want:
        user.groups.remove(*Group.objects.filter(name__in=have - want))
    if want != have:
        logger.info(
            "directory groups of %s: %s (were %s)",
            user.get_username(),
            sorted(want) or "none",
            sorted(have) or "none",
        )


def directory_failed(sender, context, user, request, exception, **kwargs):
    """Receiver of django-auth-ldap's `ldap_error`, sent when the directory
    could not be asked: the request is marked so the login page can say that
    directory sign-in is unavailable, and the reason logged in a line."""
    logger.warning(
        "directory sign-in unavailable (%s): %s", context, describe(exception)
    )
    if request is not None:
        setattr(request, UNAVAILABLE_ATTR, True)


def describe(exception) -> str:
    info = exception.args[0] if exception.args else None
    if isinstance(info, dict):
        return "; ".join(str(info[k]) for k in ("desc", "info") if info.get(k))
    return str(exception) or type(exception).__name__


ldap_error.connect(
    directory_failed,
    sender=DirectoryBackend,
    dispatch_uid="hosts.accounts.directory.directory_failed",
)

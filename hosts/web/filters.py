"""Search and filters of the build-host and build lists, from the query
string. Developers filter their own objects by state and search them;
admins see everyone's and may also pick an owner. A bad value is dropped
(the list shows unfiltered on it), never an error page."""

import re
import uuid

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.http import urlencode

from hosts.models import Build, BuildHost

SEARCH_MAX_LENGTH = 100
# A short id as the pages show it (hosts' and builds' first 12 hex digits),
# or more of the id, dashes and all.
_ID_PREFIX = re.compile(r"^[0-9a-f]{4,32}$")


class ListFilterForm(forms.Form):
    """`q` (search words), `state`, and for admins `owner` (a username)."""

    q = forms.CharField(
        label="Search",
        max_length=SEARCH_MAX_LENGTH,
        required=False,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "name, id, tag…"}
        ),
    )
    state = forms.ChoiceField(label="State", required=False)
    owner = forms.ChoiceField(label="Owner", required=False)

    def __init__(self, data=None, *, states, admin: bool):
        super().__init__(data)
        self.fields["state"].choices = [("", "Any state"), *states]
        if admin:
            usernames = get_user_model().objects.order_by("username")
            self.fields["owner"].choices = [("", "Anyone")] + [
                (name, name) for name in usernames.values_list("username", flat=True)
            ]
        else:
            del self.fields["owner"]
        self.is_valid()

    def value(self, name) -> str:
        """The field's clean value ("" when empty, bad or not offered)."""
        return (getattr(self, "cleaned_data", {}) or {}).get(name) or ""

    @property
    def query(self) -> str:
        """The chosen filters as a query string, for the list's own polling."""
        chosen = {name: self.value(name) for name in self.fields if self.value(name)}
        return urlencode(chosen) if chosen else ""

    @property
    def active(self) -> bool:
        return bool(self.query)


def _id_starts_with(word) -> Q:
    """Ids that begin with `word`, as a range of UUIDs: a prefix lookup on
    the id would not cross the dashes PostgreSQL stores."""
    digits = word.lower().replace("-", "")
    if not _ID_PREFIX.match(digits):
        return Q(pk__in=[])
    low = uuid.UUID(digits.ljust(32, "0"))
    high = uuid.UUID(digits.ljust(32, "f"))
    return Q(id__gte=low, id__lte=high)


def _chosen(form, objects):
    if form.value("state"):
        objects = objects.filter(state=form.value("state"))
    if form.value("owner"):
        objects = objects.filter(owner__username=form.value("owner"))
    return objects


def build_host_filters(data, admin: bool) -> ListFilterForm:
    return ListFilterForm(data, states=BuildHost.State.choices, admin=admin)


def filter_build_hosts(form, hosts):
    """Hosts in the chosen state and owner's, whose name, id, endpoint or
    owner contains every search word."""
    hosts = _chosen(form, hosts)
    for word in form.value("q").split():
        hosts = hosts.filter(
            Q(name__icontains=word)
            | _id_starts_with(word)
            | Q(endpoint__name__icontains=word)
            | Q(owner__username__icontains=word)
        )
    return hosts


def build_filters(data, admin: bool) -> ListFilterForm:
    return ListFilterForm(data, states=Build.State.choices, admin=admin)


def filter_builds(form, builds):
    """Builds in the chosen state and owner's, whose id, tags, build host or
    owner contains every search word."""
    builds = _chosen(form, builds)
    for word in form.value("q").split():
        builds = builds.filter(
            _id_starts_with(word)
            | Q(tags__icontains=word)
            | Q(build_host__name__icontains=word)
            | Q(owner__username__icontains=word)
        )
    return builds

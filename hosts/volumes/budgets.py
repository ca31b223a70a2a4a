"""Budgets: how many bytes of volumes one person may keep (issue 14).

A user's used bytes are the volumes they keep, by the ledger's rule
(ledger.KEPT_BY_OWNER: cache volumes and what removed hosts left behind);
their budget is DCHWEB_USER_BUDGET_GB (0: no budget). At WARN_PERCENT they are
warned, on the pages and once by a notification; at their budget, asking to
keep more volumes is refused (check_keep) with words that say what to remove.

Worker side (the periodic pass calls warn_owners) and usable by commands.
"""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max

from hosts.core import audit
from hosts.core.errors import Conflict
from hosts.models import AuditEvent, BuildHost, Notification
from hosts.notifications import outbox
from hosts.volumes import ledger

# Decimal units, as engines (`docker system df`) and disk makers count.
GB = 1000**3
WARN_PERCENT = 80
LARGEST_SHOWN = 3
# Policies that leave volumes behind when their host goes ("cache" when a
# build host may ask for a cache volume: its value, not yet a member here).
KEEPING_POLICIES = (
    BuildHost.VolumePolicy.KEEP,
    BuildHost.VolumePolicy.KEEP_DAYS,
    "cache",
)
# The audit trail remembers whether a user was last warned or back under:
# that is what makes the notification once per crossing.
WARNED = "volumes.budget_warned"
BACK_UNDER = "volumes.budget_back_under"


_USER_TYPE = settings.AUTH_USER_MODEL.lower()  # "auth.user", as the trail names it


class OverBudget(Conflict):
    """Keeping more volumes would take a user past their budget."""

    code = "over_budget"


@dataclass(frozen=True)
class Standing:
    """Where a user stands against their budget."""

    used_bytes: int
    budget_bytes: int  # 0: no budget

    @property
    def percent(self) -> int:
        if not self.budget_bytes:
            return 0
        return int(self.used_bytes * 100 // self.budget_bytes)

    @property
    def warned(self) -> bool:
        return bool(self.budget_bytes) and self.percent >= WARN_PERCENT

    @property
    def over(self) -> bool:
        return bool(self.budget_bytes) and self.used_bytes >= self.budget_bytes

    @property
    def used_words(self) -> str:
        return size_words(self.used_bytes)

    @property
    def budget_words(self) -> str:
        return size_words(self.budget_bytes)


def budget_bytes() -> int:
    """The budget every user has, in bytes; 0: none."""
    return max(0, int(settings.DCHWEB_USER_BUDGET_GB * GB))


def usage(username: str) -> tuple[int, int]:
    """(used bytes, budget bytes) of `username`; a budget of 0 is none."""
    used = ledger.kept_bytes_by_owner(username).get(username, 0) if username else 0
    return used, budget_bytes()


def standing(user) -> Standing:
    return Standing(*usage(user.get_username()))


def standing_with_largest(user) -> dict:
    """What the pages show: `budget` (a Standing), and from the warning on
    `largest`, the volumes whose removal frees most. Read once per state of
    the ledger (ledger.kept_by): the pages poll it."""
    username = user.get_username()
    kept = ledger.kept_by(username, LARGEST_SHOWN) if username else {}
    state = Standing(kept.get("bytes", 0), budget_bytes())
    shown = _words(kept["largest"]) if state.warned else []
    return {"budget": state, "largest": shown}


def largest(username: str, count: int = LARGEST_SHOWN) -> list[dict]:
    """The user's largest kept volumes: what removing would free most."""
    return _words(ledger.largest_kept(username, count))


def _words(rows) -> list[dict]:
    return [
        {
            "name": row["name"],
            "endpoint": row["endpoint__name"],
            "size_bytes": row["size_bytes"],
            "size_words": size_words(row["size_bytes"]),
        }
        for row in rows
    ]


def check_keep(user, extra_bytes: int = 0) -> None:
    """Refuse (OverBudget, a 409) to let `user` keep `extra_bytes` more when
    they are at their budget already, or that much would take them past it."""
    used, budget = usage(user.get_username())
    if not budget or (used < budget and used + extra_bytes <= budget):
        return
    raise OverBudget(_refusal(user.get_username(), used, budget))


def check_keep_policy(user, policy: str) -> None:
    """check_keep for a new build host or build whose volumes would be kept."""
    if policy in KEEPING_POLICIES:
        check_keep(user)


def _refusal(username, used, budget) -> str:
    words = (
        f"You keep {size_words(used)} of volumes, over your budget of "
        f"{size_words(budget)}: remove some on Your volumes (/volumes/)"
    )
    biggest = largest(username)
    if biggest:
        names = ", ".join(
            f"{row['name']} ({size_words(row['size_bytes'])})" for row in biggest
        )
        words += f"; the largest: {names}"
    return words


def size_words(count: int) -> str:
    """9_200_000_000 → "9.2 GB", 8 * GB → "8 GB" (one decimal, if any)."""
    count = int(count or 0)
    for unit, size in (("TB", 1000**4), ("GB", GB), ("MB", 1000**2), ("kB", 1000)):
        if count >= size:
            value = f"{count / size:.1f}".removesuffix(".0")
            return f"{value} {unit}"
    return f"{count} bytes"


# --- The periodic pass ---------------------------------------------------------------


def warn_owners() -> int:
    """Tell each owner who crossed WARN_PERCENT since they were last under
    it, once (volumes.over_budget); note those back under, so that a later
    crossing is told again. Returns how many were told."""
    budget = budget_bytes()
    if not budget:
        return 0
    used_by_owner = ledger.kept_bytes_by_owner()
    last = _last_crossings()
    told = 0
    for username, used in used_by_owner.items():
        state = Standing(used, budget)
        if state.warned and last.get(username) != WARNED:
            told += _tell(username, state)
    for username, action in last.items():
        if (
            action == WARNED
            and not Standing(used_by_owner.get(username, 0), budget).warned
        ):
            _note_back_under(username, used_by_owner.get(username, 0), budget)
    return told


def _last_crossings() -> dict[str, str]:
    """Each user's last budget mark in the audit trail: WARNED or BACK_UNDER."""
    latest = _marks().values("object_repr").annotate(last=Max("id")).order_by()
    rows = AuditEvent.objects.filter(pk__in=[row["last"] for row in latest])
    return dict(rows.values_list("object_repr", "action"))


def _user(username):
    return get_user_model().objects.filter(username=username).first()


def _tell(username, state: Standing) -> int:
    user = _user(username)
    if user is None:  # an owner label that names nobody here
        return 0
    details = {
        "used_bytes": state.used_bytes,
        "budget_bytes": state.budget_bytes,
        "percent": state.percent,
    }
    with transaction.atomic():
        # The user's row locked, the mark read again: two passes at once
        # (a rescan by hand and the periodic one) tell once.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        if _last_mark(username) == WARNED:
            return 0
        audit.record(None, WARNED, user, details, source=AuditEvent.Source.TASK)
        outbox.emit(
            Notification.Event.VOLUMES_OVER_BUDGET,
            {
                "id": user.pk,
                "name": username,
                "owner": username,
                **details,
                "largest": largest(username),
                "summary": (
                    f"{username} keeps {state.used_words} of volumes, "
                    f"{state.percent} % of the budget of {state.budget_words}"
                ),
            },
            owner=user,
        )
    return 1


def _note_back_under(username, used, budget) -> None:
    user = _user(username)
    if user is None:
        return
    details = {"used_bytes": used, "budget_bytes": budget}
    audit.record(None, BACK_UNDER, user, details, source=AuditEvent.Source.TASK)


def _marks():
    # A user's audit events name them by their name (object_repr).
    return AuditEvent.objects.filter(
        action__in=(WARNED, BACK_UNDER), object_type=_USER_TYPE
    )


def _last_mark(username):
    marks = _marks().filter(object_repr=username).order_by("-id")
    return marks.values_list("action", flat=True).first()

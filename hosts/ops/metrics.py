"""/metrics in Prometheus text format (0.0.4), made by prometheus_client.

The figures are read from the database at scrape time, by a custom collector,
so every web process reports the same, whichever served the scrape: nothing is
counted in a process's memory. The collector sits in a registry of its own, so
the client library's default process and platform series (and anything else
that registers globally) stay out of dchweb's page.
"""

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    SummaryMetricFamily,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from hosts.buildhosts import pool
from hosts.models import (
    ApiToken,
    AuditEvent,
    Build,
    BuildHost,
    BuildHostStep,
    CleanupItem,
    CleanupPlan,
    Endpoint,
    Notification,
    Registry,
    Volume,
    WebhookDelivery,
)
from hosts.volumes import budgets, ledger

# What exposition() returns: generate_latest's default escaping writes the
# 0.0.4 text format, and every name here is a plain legacy one.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


def _duration(start, end):
    return ExpressionWrapper(F(end) - F(start), output_field=DurationField())


def _seconds(delta):
    return delta.total_seconds() if delta else 0.0


def _gauge(name, help_text, label_names, samples):
    family = GaugeMetricFamily(name, help_text, labels=label_names)
    for labels, value in samples:
        family.add_metric(labels, value)
    return family


def _counter(name, help_text, label_names, samples):
    # The name is given with its `_total`: the client strips it from the
    # family and writes it back on the TYPE line and on every sample, so the
    # series keep the names they have always had.
    family = CounterMetricFamily(name, help_text, labels=label_names)
    for labels, value in samples:
        family.add_metric(labels, value)
    return family


class DatabaseCollector:
    """Every dchweb series, from a handful of aggregate queries per scrape."""

    def collect(self):
        yield _gauge(
            "dchweb_endpoints",
            "Endpoints by health.",
            ["health"],
            [([h], n) for h, n in endpoint_health_counts().items()],
        )
        yield _gauge(
            "dchweb_registries",
            "Registered registries.",
            [],
            [([], Registry.objects.count())],
        )
        yield _gauge(
            "dchweb_build_hosts",
            "Build hosts by state.",
            ["state"],
            [([s], n) for s, n in build_host_state_counts().items()],
        )
        yield _gauge(
            "dchweb_builds",
            "Builds by state.",
            ["state"],
            [([s], n) for s, n in _counts(Build, "state", Build.State.values)],
        )

        provisioned = BuildHost.objects.filter(ready_at__isnull=False).aggregate(
            count=Count("pk"), seconds=Sum(_duration("created_at", "ready_at"))
        )
        yield SummaryMetricFamily(
            "dchweb_provision_duration_seconds",
            "Time from request to ready, of build hosts that became ready.",
            count_value=provisioned["count"],
            sum_value=_seconds(provisioned["seconds"]),
        )

        builds = SummaryMetricFamily(
            "dchweb_build_duration_seconds",
            "Time from start to end of finished builds, by final state.",
            labels=["state"],
        )
        for row in (
            Build.objects.filter(finished_at__isnull=False, started_at__isnull=False)
            .values("state")
            .annotate(
                count=Count("pk"), seconds=Sum(_duration("started_at", "finished_at"))
            )
            .order_by("state")
        ):
            builds.add_metric([row["state"]], row["count"], _seconds(row["seconds"]))
        yield builds

        yield _counter(
            "dchweb_step_failures_total",
            "Failed provisioning and removal steps, by step and reason.",
            ["step", "reason"],
            [
                ([row["name"], row["reason"] or "unknown"], row["n"])
                for row in BuildHostStep.objects.filter(
                    status=BuildHostStep.Status.FAILED
                )
                .values("name", "reason")
                .annotate(n=Count("pk"))
                .order_by("name", "reason")
            ],
        )
        yield _counter(
            "dchweb_build_failures_total",
            "Failed builds, by the step that failed and the reason.",
            ["step", "reason"],
            [
                ([row["step"], row["error_reason"] or "unknown"], row["n"])
                for row in Build.objects.filter(state=Build.State.FAILED)
                .values("step", "error_reason")
                .annotate(n=Count("pk"))
                .order_by("step", "error_reason")
            ],
        )
        yield _counter(
            "dchweb_task_retries_total",
            "Provisioning steps run again (a retried or resumed task), by step.",
            ["step"],
            [
                ([row["name"]], row["n"])
                for row in BuildHostStep.objects.filter(attempt__gt=1)
                .values("name")
                .annotate(n=Count("pk"))
                .order_by("name")
            ],
        )
        yield _gauge(
            "dchweb_orphaned_volume_bytes",
            "Bytes in dchweb's volumes no container uses, by endpoint (as measured).",
            ["endpoint"],
            [
                ([row["endpoint__name"]], row["bytes"] or 0)
                for row in Volume.objects.filter(
                    present=True, status=Volume.Status.ORPHANED
                )
                .values("endpoint__name")
                .annotate(bytes=Sum("size_bytes"))
                .order_by("endpoint__name")
            ],
        )
        yield _gauge(
            "dchweb_api_tokens_active",
            "API tokens not revoked nor expired.",
            [],
            [([], ApiToken.objects.active().count())],
        )
        yield _gauge(
            "dchweb_audit_events",
            "Audit events recorded.",
            [],
            [([], AuditEvent.objects.count())],
        )
        yield from lifecycle_series()
        yield from budget_series()
        yield pool_series()


def pool_series():
    """The warm pools: free pool hosts per endpoint and state (ready ones
    are what a request may claim now)."""
    rows = (
        pool.free_hosts()
        .filter(state__in=pool.WAITING_OR_READY)
        .values("endpoint__name", "state")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return _gauge(
        "dchweb_pool_hosts",
        "Free build hosts in the endpoints' warm pools, by endpoint and state.",
        ["endpoint", "state"],
        [([row["endpoint__name"], row["state"]], row["n"]) for row in rows],
    )


def lifecycle_series():
    """Issue 14: leases, notifications, webhook deliveries, notice answers.
    (Stopped build hosts are a state of dchweb_build_hosts.)"""
    now = timezone.now()
    leased = BuildHost.objects.exclude(state__in=BuildHost.ENDED_STATES).aggregate(
        held=Count("pk", filter=Q(lease_expires_at__gte=now)),
        lapsed=Count("pk", filter=Q(lease_expires_at__lt=now)),
    )
    yield _gauge(
        "dchweb_build_host_leases",
        "Build hosts not yet removed that hold a heartbeat lease, by whether "
        "it still holds or has lapsed (removal under way).",
        ["lease"],
        [([lease], leased[lease]) for lease in ("held", "lapsed")],
    )
    yield _gauge(
        "dchweb_notifications",
        "Notifications recorded, by event and by how their mail went.",
        ["event", "mail_state"],
        [
            (list(key), n)
            for key, n in _counts_by(
                Notification,
                ("event", "mail_state"),
                [
                    (event, state)
                    for event in Notification.Event.values
                    for state in Notification.MailState.values
                ],
            )
        ],
    )
    yield _gauge(
        "dchweb_webhook_deliveries",
        "Webhook deliveries, by state.",
        ["state"],
        [
            ([s], n)
            for s, n in _counts(WebhookDelivery, "state", WebhookDelivery.State.values)
        ],
    )
    answers = dict.fromkeys(CleanupItem.Answer.values, 0)
    for row in (
        CleanupItem.objects.filter(plan__state=CleanupPlan.State.NOTICE)
        .values("answer")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        answers[row["answer"]] = row["n"]
    yield _gauge(
        "dchweb_cleanup_notice_items",
        "Volumes of clean-up plans out as a notice now, by their owner's answer.",
        ["answer"],
        [([answer or "unanswered"], n) for answer, n in answers.items()],
    )


def budget_series():
    """Kept volumes against the per-user budget (hosts/volumes/budgets.py)."""
    budget = budgets.budget_bytes()
    used = ledger.kept_bytes_by_owner()
    standings = [budgets.Standing(n, budget) for n in used.values()]
    yield _gauge(
        "dchweb_user_budget_bytes",
        "Bytes of volumes each user may keep (0: no budget).",
        [],
        [([], budget)],
    )
    yield _gauge(
        "dchweb_kept_volume_bytes",
        "Bytes each owner keeps in volumes (cache volumes, and what their "
        "removed build hosts left), as measured.",
        ["owner"],
        [([owner], n) for owner, n in sorted(used.items())],
    )
    yield _gauge(
        "dchweb_users_over_budget",
        "Users at or past the warning share of their budget, and at or past "
        "the budget itself.",
        ["threshold"],
        [
            (["warning"], sum(s.warned for s in standings)),
            (["budget"], sum(s.over for s in standings)),
        ],
    )


def _counts_by(model, fields, keys):
    """Rows per combination of `fields`, every key in `keys` present."""
    counts = dict.fromkeys(keys, 0)
    for row in model.objects.values(*fields).annotate(n=Count("pk")).order_by():
        counts[tuple(row[field] for field in fields)] = row["n"]
    return counts.items()


# Registering does not call collect(): the registry's auto_describe is off and
# the collector has no describe(), so importing this module reads nothing.
registry = CollectorRegistry()
registry.register(DatabaseCollector())


def exposition() -> str:
    return generate_latest(registry).decode()


def _counts(model, field, values):
    counts = dict.fromkeys(values, 0)
    for row in model.objects.values(field).annotate(n=Count("pk")):
        counts[row[field]] = row["n"]
    return counts.items()


def endpoint_health_counts() -> dict[str, int]:
    """Endpoints per health state, every state present (zero when none)."""
    counts = dict.fromkeys(Endpoint.Health.values, 0)
    rows = Endpoint.objects.values("health").annotate(total=Count("id"))
    counts.update({row["health"]: row["total"] for row in rows})
    return counts


def build_host_state_counts() -> dict[str, int]:
    """Build hosts per state, every state present (zero when none)."""
    counts = dict.fromkeys(BuildHost.State.values, 0)
    rows = BuildHost.objects.values("state").annotate(total=Count("id"))
    counts.update({row["state"]: row["total"] for row in rows})
    return counts

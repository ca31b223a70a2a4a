"""/metrics in Prometheus text format (0.0.4): figures read from the
database, so every web process reports the same, whichever served the scrape.
"""

from django.db.models import Count, DurationField, ExpressionWrapper, F, Sum

from hosts.models import (
    ApiToken,
    AuditEvent,
    Build,
    BuildHost,
    BuildHostStep,
    Endpoint,
    Registry,
    Volume,
)


class Exposition:
    def __init__(self):
        self.lines = []

    def family(self, name, kind, help_text, samples):
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            self.lines.append(f"{name}{_labels(labels)} {_number(value)}")

    def summary(self, name, help_text, rows, label_names=()):
        """rows: dicts with the labels, `count` and `seconds` (a timedelta)."""
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} summary")
        for row in rows:
            labels = {key: row[key] for key in label_names}
            total = row["seconds"].total_seconds() if row["seconds"] else 0.0
            self.lines.append(f"{name}_sum{_labels(labels)} {_number(total)}")
            self.lines.append(f"{name}_count{_labels(labels)} {row['count']}")

    def text(self):
        return "\n".join(self.lines) + "\n"


def _labels(labels):
    if not labels:
        return ""
    inner = ",".join(f'{key}="{_escape(value)}"' for key, value in labels.items())
    return "{" + inner + "}"


def _escape(value):
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value):
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _duration(start, end):
    return ExpressionWrapper(F(end) - F(start), output_field=DurationField())


def exposition() -> str:
    out = Exposition()
    out.family(
        "dchweb_endpoints",
        "gauge",
        "Endpoints by health.",
        [({"health": h}, n) for h, n in endpoint_health_counts().items()],
    )
    out.family(
        "dchweb_registries",
        "gauge",
        "Registered registries.",
        [({}, Registry.objects.count())],
    )
    out.family(
        "dchweb_build_hosts",
        "gauge",
        "Build hosts by state.",
        [({"state": s}, n) for s, n in build_host_state_counts().items()],
    )
    out.family(
        "dchweb_builds",
        "gauge",
        "Builds by state.",
        [({"state": s}, n) for s, n in _counts(Build, "state", Build.State.values)],
    )
    out.summary(
        "dchweb_provision_duration_seconds",
        "Time from request to ready, of build hosts that became ready.",
        [
            BuildHost.objects.filter(ready_at__isnull=False).aggregate(
                count=Count("pk"), seconds=Sum(_duration("created_at", "ready_at"))
            )
        ],
    )
    out.summary(
        "dchweb_build_duration_seconds",
        "Time from start to end of finished builds, by final state.",
        Build.objects.filter(finished_at__isnull=False, started_at__isnull=False)
        .values("state")
        .annotate(
            count=Count("pk"), seconds=Sum(_duration("started_at", "finished_at"))
        )
        .order_by("state"),
        label_names=("state",),
    )
    out.family(
        "dchweb_step_failures_total",
        "counter",
        "Failed provisioning and removal steps, by step and reason.",
        [
            ({"step": row["name"], "reason": row["reason"] or "unknown"}, row["n"])
            for row in BuildHostStep.objects.filter(status=BuildHostStep.Status.FAILED)
            .values("name", "reason")
            .annotate(n=Count("pk"))
            .order_by("name", "reason")
        ],
    )
    out.family(
        "dchweb_build_failures_total",
        "counter",
        "Failed builds, by the step that failed and the reason.",
        [
            (
                {"step": row["step"], "reason": row["error_reason"] or "unknown"},
                row["n"],
            )
            for row in Build.objects.filter(state=Build.State.FAILED)
            .values("step", "error_reason")
            .annotate(n=Count("pk"))
            .order_by("step", "error_reason")
        ],
    )
    out.family(
        "dchweb_task_retries_total",
        "counter",
        "Provisioning steps run again (a retried or resumed task), by step.",
        [
            ({"step": row["name"]}, row["n"])
            for row in BuildHostStep.objects.filter(attempt__gt=1)
            .values("name")
            .annotate(n=Count("pk"))
            .order_by("name")
        ],
    )
    out.family(
        "dchweb_orphaned_volume_bytes",
        "gauge",
        "Bytes in dchweb's volumes no container uses, by endpoint (as measured).",
        [
            ({"endpoint": row["endpoint__name"]}, row["bytes"] or 0)
            for row in Volume.objects.filter(
                present=True, status=Volume.Status.ORPHANED
            )
            .values("endpoint__name")
            .annotate(bytes=Sum("size_bytes"))
            .order_by("endpoint__name")
        ],
    )
    out.family(
        "dchweb_api_tokens_active",
        "gauge",
        "API tokens not revoked.",
        [({}, ApiToken.objects.filter(revoked_at__isnull=True).count())],
    )
    out.family(
        "dchweb_audit_events",
        "gauge",
        "Audit events recorded.",
        [({}, AuditEvent.objects.count())],
    )
    return out.text()


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

"""The domain model (design.md §2). Only what the foundation needs so far:
endpoints, registries, API tokens and the audit trail. Build hosts, volumes,
certificates, builds and cleanup plans come with their features.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from hosts import crypto


class Endpoint(models.Model):
    """A Docker API endpoint build hosts run on: a VIC VCH or a plain engine."""

    class TlsMode(models.TextChoices):
        NONE = "none", "No TLS"
        TLS = "tls", "TLS (no server verification)"
        TLSVERIFY = "tlsverify", "TLS, server verified"

    class Health(models.TextChoices):
        ON = "on", "On"
        DEGRADED = "degraded", "Degraded"
        OFF = "off", "Off"
        DISABLED = "disabled", "Disabled by an admin"

    class Flavor(models.TextChoices):
        UNKNOWN = "", "Not probed yet"
        VIC = "vic", "vSphere Integrated Containers"
        DOCKER = "docker", "Docker engine"

    name = models.CharField(max_length=100, unique=True)
    docker_url = models.CharField(
        max_length=300, help_text="tcp://host:2376 or unix:///path/docker.sock"
    )
    tls_mode = models.CharField(
        max_length=10, choices=TlsMode.choices, default=TlsMode.TLSVERIFY
    )
    publish_host = models.CharField(
        max_length=255,
        help_text="Address users and the dashboard use to reach published ports",
    )
    network = models.CharField(
        max_length=200, blank=True, help_text="Docker network build hosts join"
    )
    default_image = models.CharField(max_length=300, blank=True)
    volume_store = models.CharField(
        max_length=100, default="default", help_text="VIC volume store"
    )
    max_build_hosts = models.PositiveIntegerField(default=10)
    # Not probed yet counts as off: nothing is scheduled on an unknown engine.
    health = models.CharField(max_length=10, choices=Health.choices, default=Health.OFF)
    last_error = models.TextField(blank=True)
    last_probe_at = models.DateTimeField(null=True, blank=True)
    flavor = models.CharField(
        max_length=10, choices=Flavor.choices, default=Flavor.UNKNOWN, blank=True
    )
    api_version = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)

    def __str__(self):
        return self.name


class Registry(models.Model):
    """An image registry build hosts trust and push to.

    The password is stored encrypted (hosts/crypto.py) and is never shown
    again after it is set: read it with `get_password()` only to log in.
    """

    name = models.CharField(max_length=100, unique=True)
    address = models.CharField(
        max_length=255, unique=True, help_text="As in image refs: registry.test:5443"
    )
    project = models.CharField(max_length=100, default="default-project")
    ca_pem = models.TextField("CA certificate (PEM)", blank=True)
    username = models.CharField(max_length=150, blank=True)
    password_encrypted = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)
        verbose_name_plural = "registries"

    def __str__(self):
        return self.address

    @property
    def has_password(self) -> bool:
        return bool(self.password_encrypted)

    def set_password(self, password: str) -> None:
        self.password_encrypted = crypto.encrypt(password) if password else ""

    def get_password(self) -> str:
        if not self.password_encrypted:
            return ""
        return crypto.decrypt(self.password_encrypted)


class ApiToken(models.Model):
    """A bearer token for the API. Only its SHA-256 is stored; the plaintext
    is shown once, when created (hosts/tokens.py)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, default="default")
    # The token's public first part: finds the row without the secret, and
    # lets a user tell their tokens apart.
    prefix = models.CharField(max_length=16, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AuditEvent(models.Model):
    """One mutating action, by UI, API, CLI or task. Written only through
    `hosts.audit.record()`."""

    class Source(models.TextChoices):
        UI = "ui", "Web UI"
        API = "api", "API"
        CLI = "cli", "Command line"
        TASK = "task", "Background task"

    created_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Kept as text so the trail still names a user after they are deleted.
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=100)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = (
            models.Index(fields=["-created_at"], name="audit_time_idx"),
            models.Index(
                fields=["action", "-created_at"], name="audit_action_time_idx"
            ),
        )

    def __str__(self):
        who = self.actor_name or "system"
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {who} {self.action}"

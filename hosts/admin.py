from django import forms
from django.contrib import admin

from hosts.accounts import commands as accounts
from hosts.certificates import commands as certificate_service
from hosts.core import audit
from hosts.models import (
    ApiToken,
    AuditEvent,
    Certificate,
    CertificateAuthority,
    Endpoint,
    Registry,
)


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "docker_url",
        "tls_mode",
        "health",
        "flavor",
        "last_probe_at",
    )
    list_filter = ("health", "tls_mode", "flavor")
    search_fields = ("name", "docker_url")
    readonly_fields = ("health", "last_error", "last_probe_at", "flavor", "api_version")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        action = "endpoint.updated" if change else "endpoint.created"
        audit.record(
            request.user, action, obj, {"fields": form.changed_data}, request=request
        )


class RegistryForm(forms.ModelForm):
    """The password is write-only: blank keeps the stored one."""

    password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted and never shown again. Leave blank to keep it.",
    )

    class Meta:
        model = Registry
        fields = ("name", "address", "project", "ca_pem", "username")

    def save(self, commit=True):
        registry = super().save(commit=False)
        if self.cleaned_data.get("password"):
            registry.set_password(self.cleaned_data["password"])
        if commit:
            registry.save()
        return registry


@admin.register(Registry)
class RegistryAdmin(admin.ModelAdmin):
    form = RegistryForm
    list_display = ("name", "address", "project", "username", "has_password")
    search_fields = ("name", "address")

    @admin.display(boolean=True, description="password set")
    def has_password(self, obj):
        return obj.has_password

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        action = "registry.updated" if change else "registry.created"
        # Field names only: the password's value never enters the trail.
        audit.record(
            request.user, action, obj, {"fields": form.changed_data}, request=request
        )


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created with `manage.py createapitoken` or by their owners
    (POST /api/v1/tokens); here they are listed and revoked. An empty
    "expires at" is a token made before tokens expired: it never does."""

    list_display = (
        "name",
        "user",
        "prefix",
        "scope",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("scope", "revoked_at", "expires_at")
    search_fields = ("name", "prefix", "user__username")
    readonly_fields = (
        "user",
        "name",
        "prefix",
        "scope",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )
    actions = ("revoke",)

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        for api_token in queryset.filter(revoked_at__isnull=True):
            accounts.revoke_api_token(
                api_token, actor=request.user, source="ui", request=request
            )


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the trail is written by hosts.audit.record() only."""

    list_display = ("created_at", "actor_name", "action", "object_repr", "source")
    list_filter = ("source", "action")
    search_fields = ("actor_name", "action", "object_repr")
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Certificate)
class CertificateAdmin(admin.ModelAdmin):
    """Listed and deleted here; added on /certificates/ or the API, which
    check the PEM and the key. The private key is never shown."""

    list_display = ("name", "kind", "subject", "not_after", "has_private_key")
    list_filter = ("kind",)
    search_fields = ("name", "subject", "issuer", "fingerprint")
    fields = (
        "name",
        "kind",
        "is_ca",
        "subject",
        "issuer",
        "sans",
        "not_before",
        "not_after",
        "fingerprint",
        "chain_length",
        "has_private_key",
        "pem",
        "created_by",
        "created_at",
    )
    readonly_fields = fields

    @admin.display(boolean=True, description="private key stored")
    def has_private_key(self, obj):
        return obj.has_private_key

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        certificate_service.delete_certificate(request.user, obj, request=request)

    def delete_queryset(self, request, queryset):
        for certificate in queryset:
            certificate_service.delete_certificate(
                request.user, certificate, request=request
            )


@admin.register(CertificateAuthority)
class CertificateAuthorityAdmin(admin.ModelAdmin):
    """dchweb's own CA: shown, never edited here; its key is never shown."""

    list_display = ("fingerprint", "active", "created_at", "retired_at")
    fields = ("fingerprint", "active", "created_at", "retired_at", "cert_pem")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

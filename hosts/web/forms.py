"""Forms for the pages. They check shape only; the use cases in hosts/
(e.g. hosts/certificates/commands.py) check meaning and say what is wrong."""

from django import forms

from hosts.models import Certificate, Endpoint, Registry


class CertificateUploadForm(forms.Form):
    name = forms.CharField(max_length=100)
    pem = forms.CharField(
        label="Certificate (PEM)",
        widget=forms.Textarea(
            attrs={"rows": 8, "placeholder": "-----BEGIN CERTIFICATE-----"}
        ),
        help_text="The certificate first, then its chain; at most 64 KiB.",
        strip=False,
    )
    private_key_pem = forms.CharField(
        label="Private key (PEM, optional)",
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 5, "placeholder": "-----BEGIN PRIVATE KEY-----"}
        ),
        help_text="Unencrypted. Stored encrypted and never shown again.",
        strip=False,
    )


class RegistryForm(forms.Form):
    name = forms.CharField(max_length=100)
    address = forms.CharField(
        max_length=255,
        help_text="host[:port] as in image refs, e.g. registry.test:5443",
    )
    project = forms.CharField(max_length=100, required=False, initial="default-project")
    ca_pem = forms.CharField(
        label="CA certificate (PEM, optional)",
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 5, "placeholder": "-----BEGIN CERTIFICATE-----"}
        ),
        help_text="The CA that signed the registry's certificate.",
        strip=False,
    )
    username = forms.CharField(max_length=150, required=False)
    password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted and never shown again.",
        strip=False,
    )


class EndpointForm(forms.Form):
    """Shape only; hosts/endpoints/commands.py checks the URL and the TLS settings."""

    name = forms.CharField(max_length=100)
    docker_url = forms.CharField(
        label="Docker URL",
        max_length=300,
        help_text="tcp://host:2376 or unix:///path/docker.sock",
    )
    tls_mode = forms.ChoiceField(
        label="TLS mode",
        choices=Endpoint.TlsMode.choices,
        initial=Endpoint.TlsMode.TLSVERIFY,
    )
    ca_certificate = forms.ModelChoiceField(
        label="CA certificate",
        queryset=Certificate.objects.all(),
        required=False,
        help_text="The CA that signed the engine's certificate (tlsverify).",
    )
    client_certificate = forms.ModelChoiceField(
        queryset=Certificate.objects.exclude(private_key_encrypted=""),
        required=False,
        help_text="Certificates uploaded with their private key.",
    )
    publish_host = forms.CharField(
        max_length=255, help_text="Address users reach published ports on."
    )
    network = forms.CharField(max_length=200, required=False)
    default_image = forms.CharField(
        label="Default build-host image", max_length=300, required=False
    )
    volume_store = forms.CharField(max_length=100, initial="default")
    max_build_hosts = forms.IntegerField(
        label="Max build hosts", min_value=1, max_value=1000, initial=10
    )


# The build-host service names its settings by their data keys.
_BUILD_HOST_SERVICE_FIELDS = {
    "endpoint_id": "endpoint",
    "registry_ids": "registries",
    "name": "name",
    "disk_gb": "disk_gb",
    "ttl_minutes": "ttl_minutes",
    "volume_policy": "volume_policy",
}


class BuildHostForm(forms.Form):
    """Shape only; hosts/buildhosts/commands.py checks ranges, caps and the endpoint."""

    endpoint = forms.ModelChoiceField(
        queryset=Endpoint.objects.enabled(),
        empty_label=None,
        help_text="Endpoints an admin has disabled are not offered.",
    )
    name = forms.CharField(
        max_length=63,
        required=False,
        help_text="Optional: letters, digits, '.', '_' or '-'. "
        "Left empty, dchweb names it after you and the time.",
    )
    disk_gb = forms.IntegerField(label="Disk (GB)", initial=20)
    ttl_minutes = forms.IntegerField(
        label="Time to live (minutes)",
        initial=8 * 60,
        help_text="Removed when it runs out; you can extend it later.",
    )
    volume_policy = forms.ChoiceField(
        label="Volumes when the host is removed",
        choices=(
            ("delete", "Delete them"),
            ("keep", "Keep them"),
            ("keep_days", "Keep them for some days"),
        ),
        initial="delete",
    )
    keep_days = forms.IntegerField(
        label="Days to keep them",
        required=False,
        initial=7,
        help_text="Only with “Keep them for some days”.",
    )
    registries = forms.ModelMultipleChoiceField(
        label="Registries it trusts",
        queryset=Registry.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Their CA certificates go in before the first start, and the "
        "host must be able to log in to each before it is ready.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault(
                "registries", list(Registry.objects.values_list("pk", flat=True))
            )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("volume_policy") == "keep_days" and (
            cleaned.get("keep_days") is None and "keep_days" not in self.errors
        ):
            self.add_error("keep_days", "Say how many days to keep the volumes.")
        return cleaned

    def service_data(self) -> dict:
        """The cleaned form as hosts/buildhosts.create_build_host's data."""
        data = self.cleaned_data
        policy = data["volume_policy"]
        if policy == "keep_days":
            days = data.get("keep_days")
            policy = f"keep_days:{'' if days is None else days}"
        return {
            "endpoint_id": data["endpoint"].pk,
            "registry_ids": [registry.pk for registry in data["registries"]],
            "name": data["name"],
            "disk_gb": data["disk_gb"],
            "ttl_minutes": data["ttl_minutes"],
            "volume_policy": policy,
        }

    def add_service_error(self, field, message) -> None:
        name = _BUILD_HOST_SERVICE_FIELDS.get(field)
        if name == "volume_policy" and self.cleaned_data.get("volume_policy") == (
            "keep_days"
        ):
            name = "keep_days"
        self.add_error(name, message)

"""Forms for the pages. They check shape only; the use cases in hosts/
(e.g. hosts/certificates/commands.py) check meaning and say what is wrong,
and hosts/web/errors.py puts what they say on the form (`field_for`)."""

from typing import ClassVar

from django import forms

from hosts.core.errors import Conflict
from hosts.images import commands as images
from hosts.models import Certificate, Endpoint, Registry, Volume
from hosts.volumes import ledger
from hosts.volumes.plans import MAX_OLDER_THAN_DAYS


class ServiceForm(forms.Form):
    """A form a use case checks. The use case names a bad setting by its
    data key (`error.field`): a key maps to the field of that name unless
    `service_fields` says otherwise; a conflict lands on `conflict_field`
    (None: on the whole form), and so does a key the form has no field for."""

    service_fields: ClassVar[dict[str, str | None]] = {}
    conflict_field: ClassVar[str | None] = None

    def field_for(self, error) -> str | None:
        if isinstance(error, Conflict):
            name = self.conflict_field
        else:
            key = getattr(error, "field", None)
            name = self.service_fields.get(key, key)
        return name if name in self.fields else None


class CertificateUploadForm(ServiceForm):
    conflict_field = "name"  # another certificate has that name

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


class RegistryForm(ServiceForm):
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


class EndpointForm(ServiceForm):
    """Shape only; hosts/endpoints/commands.py checks the URL and the TLS settings."""

    # The certificates are rows here, ids in the service's data.
    service_fields: ClassVar = {
        "ca_certificate_id": "ca_certificate",
        "client_certificate_id": "client_certificate",
    }
    conflict_field = "name"  # another endpoint has that name

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
        max_length=255,
        required=False,
        help_text="Address users reach published ports on. Empty: the host of "
        "a tcp:// Docker URL (a unix socket needs one).",
    )
    network = forms.CharField(max_length=200, required=False)
    default_image = forms.CharField(
        label="Default build-host image", max_length=300, required=False
    )
    volume_store = forms.CharField(max_length=100, initial="default")
    max_build_hosts = forms.IntegerField(
        label="Max build hosts", min_value=1, max_value=1000, initial=10
    )
    idle_minutes = forms.IntegerField(
        label="Stop idle build hosts after (minutes)",
        required=False,
        help_text="A build host with nothing happening inside it this long is "
        "stopped, its volumes kept. 0 = never; empty: the installation's "
        "setting. Its owner may choose otherwise.",
    )
    pool_size = forms.IntegerField(
        label="Warm pool size",
        initial=0,
        required=False,
        help_text="How many build hosts dchweb keeps ready here, with the default "
        "image and every registry the endpoint trusts, so that a request gets "
        "one at once. They count against the max build hosts. 0 = no pool.",
    )


# "Any endpoint": the first choice; hosts/buildhosts/placement.py chooses.
ANY_ENDPOINT = "Any endpoint"
ANY_ENDPOINT_HELP = (
    "Any endpoint: dchweb chooses one that is on, trusts the registries and has "
    "room, preferring your build cache, then a ready pool host, then the one "
    "running the fewest build hosts."
)


def offer_any_endpoint(form, field_name) -> None:
    """With two endpoints or more, "Any endpoint" (the empty choice, first)
    is the default; with one, that one."""
    endpoints = list(form.fields[field_name].queryset.values_list("pk", flat=True)[:2])
    if len(endpoints) == 1:
        form.initial.setdefault(field_name, endpoints[0])


# Volume policy "cache" (hosts/volumes/caches.py), in words.
CACHE_CHOICE = "Keep the data volume as my build cache"
CACHE_HELP = (
    "As your build cache, the data volume (its images and build cache) stays on "
    "that endpoint when the host goes, and your next build host or build there "
    "starts on it."
)


class BuildHostForm(ServiceForm):
    """Shape only; hosts/buildhosts/commands.py checks ranges, caps and the endpoint."""

    service_fields: ClassVar = {"endpoint_id": "endpoint", "registry_ids": "registries"}

    endpoint = forms.ModelChoiceField(
        queryset=Endpoint.objects.enabled(),
        required=False,
        empty_label=ANY_ENDPOINT,
        help_text=f"{ANY_ENDPOINT_HELP} Endpoints an admin has disabled are "
        "not offered.",
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
    idle_minutes = forms.IntegerField(
        label="Stop when idle for (minutes)",
        required=False,
        help_text="Stopped, its volumes kept, after this long with nothing "
        "happening inside it; you resume it from its page. 0 = never; left "
        "empty, the endpoint's setting.",
    )
    volume_policy = forms.ChoiceField(
        label="Volumes when the host is removed",
        choices=(
            ("delete", "Delete them"),
            ("keep", "Keep them"),
            ("keep_days", "Keep them for some days"),
            ("cache", CACHE_CHOICE),
        ),
        initial="delete",
        help_text=CACHE_HELP,
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
            offer_any_endpoint(self, "endpoint")

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
            "endpoint_id": data["endpoint"].pk if data["endpoint"] else None,
            "registry_ids": [registry.pk for registry in data["registries"]],
            "name": data["name"],
            "disk_gb": data["disk_gb"],
            "ttl_minutes": data["ttl_minutes"],
            "idle_minutes": data.get("idle_minutes"),
            "volume_policy": policy,
        }

    def field_for(self, error) -> str | None:
        name = super().field_for(error)
        # "keep_days:<n>" is the policy's value in the service, typed here.
        if name == "volume_policy" and self.cleaned_data.get("volume_policy") == (
            "keep_days"
        ):
            return "keep_days"
        return name


# --- Builds -------------------------------------------------------------------


class BuildForm(ServiceForm):
    """Shape only; hosts/builds/commands.py checks tags, the context, the arguments,
    the build host or endpoint, and caps. With `host`, it builds on that
    build host; without, on an ephemeral one on the chosen endpoint. The
    fields are named as the service's data keys, so its errors land on them."""

    context = forms.FileField(
        label="Context archive (tar or tar.gz)",
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".tar,.gz,.tgz"}),
        help_text="The folder to build, with its Dockerfile, as an archive.",
    )
    dockerfile_text = forms.CharField(
        label="…or write a Dockerfile",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 5, "placeholder": "FROM …"}),
        help_text="Instead of an archive: the Dockerfile alone, no other files.",
    )
    dockerfile = forms.CharField(
        label="Dockerfile path",
        max_length=255,
        initial="Dockerfile",
        help_text="Inside the archive.",
    )
    tag = forms.CharField(
        label="Tag(s)",
        max_length=2000,
        widget=forms.TextInput(
            attrs={"placeholder": "registry.test:5443/default-project/app:1"}
        ),
        help_text="One or more, separated by spaces or commas. To push: "
        "<registry>/<project>/<name>:<tag>.",
    )
    build_args = forms.CharField(
        label="Build arguments (JSON, optional)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": '{"NAME": "value"}'}),
    )
    push = forms.BooleanField(
        label="Push to the registry", required=False, initial=True
    )
    target = forms.CharField(
        label="Stage to build (optional)",
        required=False,
        max_length=128,
        help_text="In a multi-stage Dockerfile: the name after AS to stop at.",
    )
    cache_from = forms.CharField(
        label="Cache images (optional)",
        required=False,
        max_length=2000,
        help_text="Images whose layers the build may reuse, pulled first; "
        "separated by spaces or commas.",
    )
    labels = forms.CharField(
        label="Labels on the image (JSON, optional)",
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 2, "placeholder": '{"org.example.team": "web"}'}
        ),
    )
    no_cache = forms.BooleanField(label="Use no cache at all", required=False)
    pull = forms.BooleanField(label="Always pull the FROM images", required=False)
    endpoint_id = forms.ModelChoiceField(
        label="Endpoint",
        queryset=Endpoint.objects.enabled(),
        required=False,
        empty_label=ANY_ENDPOINT,
        help_text="A build host is made there for this build and removed after "
        f"it. {ANY_ENDPOINT_HELP}",
    )
    volume_policy = forms.ChoiceField(
        label="Its volumes afterwards",
        choices=(
            ("delete", "Delete them"),
            ("keep", "Keep them"),
            ("cache", CACHE_CHOICE),
        ),
        initial="delete",
        help_text=CACHE_HELP,
    )
    build_host_id = forms.UUIDField(widget=forms.HiddenInput, required=False)

    # Folded under "More options": most builds need none of them.
    MORE_OPTIONS = ("target", "cache_from", "labels", "no_cache", "pull")

    def __init__(self, *args, host=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.host = host
        if host is not None:
            del self.fields["endpoint_id"]
            del self.fields["volume_policy"]
            self.fields["build_host_id"].initial = host.pk
        else:
            del self.fields["build_host_id"]
            if not self.is_bound:
                offer_any_endpoint(self, "endpoint_id")

    def main_fields(self):
        return [f for f in self.visible_fields() if f.name not in self.MORE_OPTIONS]

    def more_fields(self):
        return [f for f in self.visible_fields() if f.name in self.MORE_OPTIONS]

    @property
    def more_options_used(self) -> bool:
        """Open the fold when a refused form has something there."""
        return any(f.errors or f.value() for f in self.more_fields())

    @property
    def place(self) -> str:
        """The id of the element the form lives in (home or a host's page)."""
        return "new-build-on-host" if self.host is not None else "new-build"

    def clean(self):
        cleaned = super().clean()
        upload, text = cleaned.get("context"), cleaned.get("dockerfile_text")
        if upload and text and text.strip():
            self.add_error(
                "dockerfile_text",
                "Upload an archive or write a Dockerfile, not both.",
            )
        elif not upload and not (text and text.strip()):
            self.add_error("context", "Upload a context archive or write a Dockerfile.")
        return cleaned

    def service_data(self) -> dict:
        data = self.cleaned_data
        wanted = {
            "tag": data["tag"],
            "dockerfile": data["dockerfile"],
            "dockerfile_text": "" if data.get("context") else data["dockerfile_text"],
            "build_args": data["build_args"],
            "push": data["push"],
            **{name: data[name] for name in self.MORE_OPTIONS},
        }
        if self.host is not None:
            wanted["build_host_id"] = str(self.host.pk)
        else:
            chosen = data["endpoint_id"]
            wanted["endpoint_id"] = chosen.pk if chosen else None
            wanted["volume_policy"] = data["volume_policy"]
        return wanted

    def field_for(self, error) -> str | None:
        # Without an archive, the context the service means is the Dockerfile.
        if getattr(error, "field", None) == "context" and not self.cleaned_data.get(
            "context"
        ):
            return "dockerfile_text"
        name = super().field_for(error)
        return None if name == "build_host_id" else name


class DeployForm(ServiceForm):
    """Run a pushed build's image on an endpoint (hosts/deployments/commands.py)."""

    service_fields: ClassVar = {"endpoint_id": "endpoint"}

    endpoint = forms.ModelChoiceField(
        queryset=Endpoint.objects.enabled(),
        empty_label=None,
        help_text="Pulls the pushed image by its digest there and runs it.",
    )
    command = forms.CharField(
        max_length=1000,
        required=False,
        help_text="Optional: instead of the image's own command.",
    )


# --- Volumes ------------------------------------------------------------------

SORT_COLUMNS = ("name", "size", "age", "status")
SORT_CHOICES = [("", "Name")] + [
    (f"{sign}{column}", f"{column} {'descending' if sign else 'ascending'}")
    for column in SORT_COLUMNS
    for sign in ("", "-")
]


class VolumeFilterForm(forms.Form):
    """The page's filters and sort, from the query string (or a rule POST).
    A bad value is dropped and shown as an error; the others still apply."""

    endpoint = forms.ModelChoiceField(
        queryset=Endpoint.objects.order_by("name"),
        required=False,
        empty_label="All endpoints",
    )
    status = forms.ChoiceField(
        choices=[("", "Any status"), *Volume.Status.choices], required=False
    )
    owner = forms.CharField(
        max_length=150,
        required=False,
        widget=forms.TextInput(
            attrs={"type": "search", "list": "volume-owners", "placeholder": "any"}
        ),
    )
    managed = forms.ChoiceField(
        choices=[("", "Any"), ("yes", "dchweb's"), ("no", "Not dchweb's")],
        required=False,
    )
    older_than_days = forms.IntegerField(
        min_value=0,
        max_value=MAX_OLDER_THAN_DAYS,
        required=False,
        widget=forms.NumberInput(attrs={"placeholder": "days", "size": 5}),
    )
    sort = forms.ChoiceField(choices=SORT_CHOICES, required=False)

    def value(self, name):
        """The field's clean value, or None when it was bad or empty."""
        if not hasattr(self, "cleaned_data"):
            self.is_valid()
        return self.cleaned_data.get(name) or None

    def volume_filters(self) -> ledger.VolumeFilters:
        endpoint = self.value("endpoint")
        managed = self.value("managed")
        return ledger.VolumeFilters(
            endpoint_id=endpoint.pk if endpoint else None,
            status=self.value("status") or "",
            owner=self.value("owner") or "",
            managed=None if managed is None else managed == "yes",
            older_than_days=self.cleaned_data.get("older_than_days"),
        )


# --- Build-host images --------------------------------------------------------


class CaImageForm(ServiceForm):
    """A build-host image with registry CAs in it (hosts/images/commands.py)."""

    endpoint = forms.ModelChoiceField(
        queryset=Endpoint.objects.enabled(),
        help_text="Where the ephemeral build host that builds it runs.",
    )
    registries = forms.ModelMultipleChoiceField(
        queryset=Registry.objects.exclude(ca_pem=""),
        widget=forms.CheckboxSelectMultiple,
        help_text="Their CAs go into /etc/docker/certs.d/ in the image.",
    )
    name = forms.CharField(max_length=100, required=False, initial=images.DEFAULT_NAME)
    tag = forms.CharField(
        max_length=128, required=False, help_text="Default: a timestamp."
    )

    def field_for(self, error) -> None:
        # The page shows every refusal above the form: one may come from the
        # build that makes the image, about settings this form does not have.
        return None

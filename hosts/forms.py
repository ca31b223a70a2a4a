"""Forms for the pages. They check shape only; the use cases in hosts/
(e.g. hosts/certificates.py) check meaning and say what is wrong."""

from django import forms

from hosts.models import Certificate, Endpoint


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
    """Shape only; hosts/endpoints.py checks the URL and the TLS settings."""

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

"""Forms for the pages. They check shape only; the use cases in hosts/
(e.g. hosts/certificates.py) check meaning and say what is wrong."""

from django import forms


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

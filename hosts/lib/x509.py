"""X.509 without the database: parse what admins upload, and make the CA,
server and client certificates build hosts need (design.md §2).

Parsing (`parse_certificate_bundle`) is pure: PEM text in, a
`ParsedCertificate` or a `CertificateInvalid` with a message for people out.
dchweb's stored CA is hosts/core/pki.py.
"""

import datetime
import ipaddress
import re
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.utils import timezone

MAX_INPUT_BYTES = 64 * 1024
CA_DAYS = 3650
CA_COMMON_NAME = "dchweb CA"
# Issued certificates start a little in the past: a build host whose clock is
# a few minutes behind must not see a certificate that is not yet valid.
BACKDATE = datetime.timedelta(minutes=5)
EXPIRY_WARNINGS = (("1d", 1), ("7d", 7), ("30d", 30))

_PEM_BLOCK = re.compile(
    r"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL
)
_KIND_CA, _KIND_CLIENT, _KIND_SERVER = "ca", "client", "server"


class CertificateInvalid(ValueError):
    """Uploaded PEM that dchweb will not store; the message says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ParsedCertificate:
    subject: str
    issuer: str
    sans: list[str]
    not_before: datetime.datetime
    not_after: datetime.datetime
    fingerprint: str
    is_ca: bool
    kind: str
    chain_length: int
    # The certificates only, re-encoded; the key is kept apart (PKCS#8, clear).
    pem: str = ""
    private_key_pem: str | None = field(default=None, repr=False)


# --- Parsing uploads --------------------------------------------------------


def parse_certificate_bundle(
    pem_text: str, private_key_pem: str | None = None, *, now=None
) -> ParsedCertificate:
    """Parse a certificate (first), its chain, and an optional private key.

    The key may be given apart or inside the bundle. Raises CertificateInvalid.
    """
    now = now or timezone.now()
    _check_size("certificate", pem_text)
    blocks = _pem_blocks(pem_text, what="certificate")
    cert_blocks = [body for label, body in blocks if label == "CERTIFICATE"]
    key_blocks = [
        _pem(label, body) for label, body in blocks if label.endswith("PRIVATE KEY")
    ]
    if not cert_blocks:
        labels = ", ".join(sorted({label for label, _ in blocks}))
        raise CertificateInvalid(
            f"this PEM holds no certificate (found: {labels}); "
            "expected a -----BEGIN CERTIFICATE----- block"
        )
    chain = _load_certificates(cert_blocks)
    leaf = chain[0]
    for position, cert in enumerate(chain):
        _check_validity(cert, position, now)

    key = None
    if private_key_pem and private_key_pem.strip():
        if key_blocks:
            raise CertificateInvalid(
                "a private key was given twice: in the certificate text and apart"
            )
        key = load_private_key(private_key_pem)
    elif key_blocks:
        if len(key_blocks) > 1:
            raise CertificateInvalid("the certificate text holds more than one key")
        key = load_private_key(key_blocks[0])
    if key is not None and _public_der(key.public_key()) != _public_der(
        leaf.public_key()
    ):
        raise CertificateInvalid(
            "the private key does not match the certificate: its public key "
            f"is not the one in {leaf.subject.rfc4514_string() or 'the certificate'}"
        )

    is_ca = _is_ca(leaf)
    return ParsedCertificate(
        subject=leaf.subject.rfc4514_string(),
        issuer=leaf.issuer.rfc4514_string(),
        sans=subject_alt_names(leaf),
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
        fingerprint=fingerprint(leaf),
        is_ca=is_ca,
        kind=_kind(leaf, is_ca),
        chain_length=len(chain),
        pem="".join(
            cert.public_bytes(serialization.Encoding.PEM).decode() for cert in chain
        ),
        private_key_pem=_key_to_pem(key) if key is not None else None,
    )


def load_private_key(pem_text: str):
    """A private key from unencrypted PEM, or CertificateInvalid."""
    _check_size("private key", pem_text)
    if "ENCRYPTED" in pem_text:
        raise CertificateInvalid(
            "the private key is encrypted with a passphrase, which dchweb does not "
            "take: decrypt it first (openssl pkey -in key.pem -out key-clear.pem)"
        )
    blocks = _pem_blocks(pem_text, what="private key")
    keys = [(label, body) for label, body in blocks if label.endswith("PRIVATE KEY")]
    if not keys:
        raise CertificateInvalid(
            "the private key text holds no private key; expected a "
            "-----BEGIN PRIVATE KEY----- block"
        )
    if len(keys) > 1:
        raise CertificateInvalid("the private key text holds more than one key")
    label, body = keys[0]
    try:
        return serialization.load_pem_private_key(
            _pem(label, body).encode(),
            password=None,
        )
    except TypeError:
        raise CertificateInvalid(
            "the private key is encrypted with a passphrase, which dchweb does not "
            "take: decrypt it first (openssl pkey -in key.pem -out key-clear.pem)"
        ) from None
    except (ValueError, UnsupportedAlgorithm) as error:
        raise CertificateInvalid(f"the private key is not readable: {error}") from None


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 as `openssl x509 -fingerprint -sha256` prints it: AB:CD:..."""
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def subject_alt_names(cert: x509.Certificate) -> list[str]:
    """`DNS:name`, `IP:address`, ... as openssl prints them."""
    try:
        sans = cert.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value
    except x509.ExtensionNotFound:
        return []
    prefixes = {
        x509.DNSName: "DNS",
        x509.IPAddress: "IP",
        x509.RFC822Name: "email",
        x509.UniformResourceIdentifier: "URI",
    }
    names = []
    for name in sans:
        prefix = prefixes.get(type(name))
        if prefix is not None:
            names.append(f"{prefix}:{name.value}")
    return names


def expiry_warning(not_after, now=None) -> str | None:
    """None, or how close expiry is: "30d", "7d", "1d" ahead, or "expired"."""
    now = now or timezone.now()
    left = not_after - now
    if left <= datetime.timedelta(0):
        return "expired"
    for label, days in EXPIRY_WARNINGS:
        if left <= datetime.timedelta(days=days):
            return label
    return None


def expires_in_days(not_after, now=None) -> int:
    """Whole days left (negative once expired)."""
    now = now or timezone.now()
    return (not_after - now).days


def _check_size(what: str, text: str) -> None:
    size = len(text.encode())
    if size > MAX_INPUT_BYTES:
        raise CertificateInvalid(
            f"the {what} text is {size} bytes; the limit is "
            f"{MAX_INPUT_BYTES // 1024} KiB"
        )


def _pem_blocks(text: str, *, what: str) -> list[tuple[str, str]]:
    blocks = _PEM_BLOCK.findall(text.replace("\r\n", "\n"))
    if not blocks:
        raise CertificateInvalid(
            f"the {what} is not PEM: paste text that starts with a "
            "-----BEGIN ...----- line and ends with its -----END ...----- line"
        )
    return blocks


def _pem(label: str, body: str) -> str:
    return f"-----BEGIN {label}-----\n{body}-----END {label}-----\n"


def _load_certificates(bodies: list[str]) -> list[x509.Certificate]:
    chain = []
    for position, body in enumerate(bodies, start=1):
        try:
            chain.append(
                x509.load_pem_x509_certificate(_pem("CERTIFICATE", body).encode())
            )
        except ValueError:
            where = "the certificate" if len(bodies) == 1 else f"certificate {position}"
            raise CertificateInvalid(
                f"{where} is a CERTIFICATE block but not a readable X.509 "
                "certificate (damaged or truncated base64?)"
            ) from None
    return chain


def _check_validity(cert: x509.Certificate, position: int, now) -> None:
    name = cert.subject.rfc4514_string() or "(no subject)"
    which = "the certificate" if position == 0 else f"chain certificate {name}"
    if now < cert.not_valid_before_utc:
        raise CertificateInvalid(
            f"{which} is not valid yet: valid from "
            f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
        )
    if now > cert.not_valid_after_utc:
        raise CertificateInvalid(
            f"{which} has expired: it was valid until "
            f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
        )


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _kind(cert: x509.Certificate, is_ca: bool) -> str:
    if is_ca:
        return _KIND_CA
    try:
        usages = set(
            cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        )
    except x509.ExtensionNotFound:
        usages = set()
    if ExtendedKeyUsageOID.SERVER_AUTH in usages:
        return _KIND_SERVER
    if ExtendedKeyUsageOID.CLIENT_AUTH in usages:
        return _KIND_CLIENT
    # No usage given: a certificate naming hosts serves them.
    return _KIND_SERVER if subject_alt_names(cert) else _KIND_CLIENT


def _public_der(public_key) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _key_to_pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


# --- dchweb's own CA --------------------------------------------------------


def _new_key():
    return ec.generate_private_key(ec.SECP256R1())


def new_ca_material(now, common_name=None) -> tuple[str, str]:
    key = _new_key()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dchweb"),
            x509.NameAttribute(
                NameOID.COMMON_NAME,
                common_name or f"{CA_COMMON_NAME} {now:%Y-%m-%d %H:%M:%S}",
            ),
        ]
    )
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), _key_to_pem(key)


@dataclass(frozen=True)
class Issuer:
    """A CA that is not dchweb's stored one: a build host's own CA."""

    cert_pem: str
    key_pem: str = field(repr=False)

    def get_private_key(self) -> str:
        return self.key_pem


def new_build_host_ca(common_name: str) -> Issuer:
    """A CA for one build host. The host's dockerd trusts only it, so the
    owner's client certificate opens that host and no other."""
    cert_pem, key_pem = new_ca_material(timezone.now(), common_name)
    return Issuer(cert_pem, key_pem)


def issue_server_certificate(
    common_name: str,
    dns_names=(),
    ip_addresses=(),
    days: int = 365,
    *,
    ca,
) -> tuple[str, str]:
    """A TLS server certificate from `ca` (an Issuer, or anything with
    `cert_pem` and `get_private_key()`, such as dchweb's stored CA): (cert, key)
    PEM."""
    names = [x509.DNSName(name) for name in dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(str(ip))) for ip in ip_addresses]
    if not names:
        raise ValueError("a server certificate needs at least one DNS name or IP")
    return _issue(
        common_name,
        days,
        ExtendedKeyUsageOID.SERVER_AUTH,
        x509.SubjectAlternativeName(names),
        ca=ca,
    )


def issue_client_certificate(
    common_name: str,
    days: int = 365,
    *,
    ca,
) -> tuple[str, str]:
    """A TLS client certificate from `ca` (as for a server one): (cert, key) PEM."""
    return _issue(common_name, days, ExtendedKeyUsageOID.CLIENT_AUTH, None, ca=ca)


def _issue(common_name, days, usage, sans, *, ca) -> tuple[str, str]:
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.encode())
    ca_key = serialization.load_pem_private_key(
        ca.get_private_key().encode(), password=None
    )
    key = _new_key()
    now = timezone.now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(
            min(now + datetime.timedelta(days=days), ca_cert.not_valid_after_utc)
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),
            critical=False,
        )
    )
    if sans is not None:
        builder = builder.add_extension(sans, critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM).decode(), _key_to_pem(key)

"""Garbage certificates through the API, with the real limits (not lowered as
in the unit tests): each a 400 that says what is wrong, and nothing saved (no
row, no audit event). What tests/unit already covers (bad, expired,
mismatched PEM) is not repeated here."""

import base64
import json
import os

import pytest
from django.test import Client

from hosts.models import AuditEvent, Certificate
from tests.support.world import api_token

pytestmark = [pytest.mark.badinput, pytest.mark.django_db, pytest.mark.timeout(120)]


def armoured(body: bytes) -> str:
    return (
        "-----BEGIN CERTIFICATE-----\n"
        + base64.encodebytes(body).decode()
        + "-----END CERTIFICATE-----\n"
    )


GARBAGE_CERTIFICATES = {
    "random bytes in PEM armour": (
        {"pem": armoured(os.urandom(1500))},
        "invalid_certificate",
        "not a readable X.509",
    ),
    "armour around junk": (
        {
            "pem": "-----BEGIN CERTIFICATE-----\n!!!*** not base64 ***!!!\n"
            "-----END CERTIFICATE-----\n"
        },
        "invalid_certificate",
        "not a readable X.509",
    ),
    "control characters": (
        {"pem": "\x01\x02\x1b[31m\x7f" * 50},
        "invalid_certificate",
        "is not PEM",
    ),
    "NULs (refused before any code sees them)": (
        {"pem": "\x00\x01\x02" * 50},
        "bad_request",
        "NUL",
    ),
    "a lone surrogate (valid JSON, not Unicode)": (
        {"pem": "\udc80-----BEGIN CERTIFICATE-----"},
        "bad_request",
        "parse",
    ),
    "a 10 MB certificate": (
        {"pem": armoured(b"\x30" * (10 * 1024 * 1024 * 3 // 4))},
        "too_large",
        "larger than",
    ),
    "a 10 MB private key": (
        {"pem": armoured(b"x"), "private_key_pem": "k" * (10 * 1024 * 1024)},
        "too_large",
        "larger than",
    ),
}


@pytest.mark.parametrize("case", GARBAGE_CERTIFICATES)
def test_a_garbage_certificate_is_a_400_and_nothing_is_saved(admin, case):
    fields, code, words = GARBAGE_CERTIFICATES[case]
    body = json.dumps({"name": "garbage", **fields}).encode()

    response = Client().post(
        "/api/v1/certificates",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api_token(admin)}",
    )

    assert response.status_code == 400, response.content[:300]
    answer = response.json()
    assert set(answer) == {"error", "detail"}
    assert answer["error"] == code, answer
    assert words.lower() in answer["detail"].lower(), answer
    assert Certificate.objects.count() == 0
    assert not AuditEvent.objects.filter(action__startswith="certificate").exists()

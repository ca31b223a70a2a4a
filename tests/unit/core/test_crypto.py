"""Secrets at rest: encrypted in the database, readable only with the key."""

import pytest
from cryptography.fernet import Fernet
from django.db import connection

from hosts.lib import crypto
from hosts.models import Registry


def test_a_secret_survives_the_round_trip():
    ciphertext = crypto.encrypt("hunter2")

    assert ciphertext != "hunter2"
    assert crypto.decrypt(ciphertext) == "hunter2"


@pytest.mark.django_db
def test_the_database_column_does_not_hold_the_plaintext():
    registry = Registry(name="corp", address="registry.corp:443")
    registry.set_password("plaintext-registry-password")
    registry.save()

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT password_encrypted FROM hosts_registry WHERE id = %s", [registry.pk]
        )
        stored = cursor.fetchone()[0]

    assert "plaintext-registry-password" not in stored
    assert Registry.objects.get(pk=registry.pk).get_password() == (
        "plaintext-registry-password"
    )


def test_keys_rotate_old_ciphertext_still_opens(settings):
    old_key = Fernet.generate_key().decode()
    new_key = Fernet.generate_key().decode()
    settings.DCHWEB_ENCRYPTION_KEY = old_key
    written_with_old_key = crypto.encrypt("rotating")

    settings.DCHWEB_ENCRYPTION_KEY = f"{new_key},{old_key}"

    assert crypto.decrypt(written_with_old_key) == "rotating"
    rotated = crypto.rotate(written_with_old_key)
    settings.DCHWEB_ENCRYPTION_KEY = new_key
    assert crypto.decrypt(rotated) == "rotating"


def test_a_secret_written_with_another_key_is_reported_not_garbled(settings):
    settings.DCHWEB_ENCRYPTION_KEY = Fernet.generate_key().decode()
    ciphertext = crypto.encrypt("lost")

    settings.DCHWEB_ENCRYPTION_KEY = Fernet.generate_key().decode()

    with pytest.raises(crypto.SecretUnreadable, match="DCHWEB_ENCRYPTION_KEY"):
        crypto.decrypt(ciphertext)


def test_without_a_configured_key_the_key_follows_the_secret_key(settings):
    settings.DCHWEB_ENCRYPTION_KEY = ""
    ciphertext = crypto.encrypt("derived")

    settings.SECRET_KEY = "another-secret-key-" + "y" * 40

    with pytest.raises(crypto.SecretUnreadable):
        crypto.decrypt(ciphertext)

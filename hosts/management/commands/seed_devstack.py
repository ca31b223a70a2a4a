import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from hosts.ops import seeding

# What the devstack writes to var/devstack/env, and what seeding needs of it.
REQUIRED_VARIABLES = {
    "docker_url": "DCHWEB_DOCKER_URL",
    "network": "DCHWEB_DEVSTACK_NETWORK",
    "image": "DCHWEB_BUILD_HOST_IMAGE",
    "registry": "DCHWEB_REGISTRY",
    "registry_ca_file": "DCHWEB_REGISTRY_CA",
    "registry_user": "DCHWEB_REGISTRY_USER",
    "registry_password_file": "DCHWEB_REGISTRY_PASSWORD_FILE",
}
HOW_TO_FIX = (
    "Start the devstack first (`devstack/up`, or `make run`), then run this again."
)


class Command(BaseCommand):
    help = (
        "Idempotently seed the dashboard for the devstack: groups, the superuser "
        "`admin`, the endpoint `local` and the devstack registry with its CA and "
        "login. Reads the DCHWEB_* variables of var/devstack/env."
    )

    def handle(self, *args, **options):
        devstack = self._devstack_from_environment()
        result = seeding.seed_devstack(
            devstack, admin_password=os.environ.get("DCHWEB_ADMIN_PASSWORD") or None
        )
        for label in result.created:
            self.stdout.write(f"created {label}")
        for label in result.updated:
            self.stdout.write(f"updated {label} to match the devstack")
        if not (result.created or result.updated):
            self.stdout.write("devstack seed: already up to date")
        self._announce_admin_login(result.admin_password)

    def _announce_admin_login(self, password):
        if password is None:
            # A person who lost the first run's output needs a way back in.
            self.stdout.write(
                "admin login: admin (password shown when it was created; "
                "`.venv/bin/python manage.py changepassword admin` sets a new one)"
            )
            return
        if os.environ.get("DCHWEB_ADMIN_PASSWORD"):
            self.stdout.write(
                "admin login: admin / (the password in DCHWEB_ADMIN_PASSWORD)"
            )
            return
        # Generated: this is the only time it is ever shown.
        self.stdout.write(self.style.WARNING(f"admin login: admin / {password}"))
        self.stdout.write("(generated; shown only this once, stored only as a hash)")

    def _devstack_from_environment(self) -> dict:
        missing = [
            name for name in REQUIRED_VARIABLES.values() if not os.environ.get(name)
        ]
        if missing:
            names = ", ".join(missing)
            raise CommandError(f"the devstack environment lacks {names}. {HOW_TO_FIX}")
        values = {key: os.environ[name] for key, name in REQUIRED_VARIABLES.items()}
        values["registry_ca"] = self._read(
            values.pop("registry_ca_file"), "DCHWEB_REGISTRY_CA"
        )
        values["registry_password"] = self._read(
            values.pop("registry_password_file"), "DCHWEB_REGISTRY_PASSWORD_FILE"
        ).strip()
        return values

    @staticmethod
    def _read(path, variable) -> str:
        try:
            return Path(path).read_text()
        except OSError as error:
            raise CommandError(
                f"{variable}={path} cannot be read ({error.strerror}). {HOW_TO_FIX}"
            ) from None

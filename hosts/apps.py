from django.apps import AppConfig


class HostsConfig(AppConfig):
    name = "hosts"
    verbose_name = "Build hosts"

    def ready(self):
        # Login lockouts (django-axes) become audit events.
        from hosts.accounts import signals

        signals.connect()

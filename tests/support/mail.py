"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives,
for the notification mail tests. It can be stopped and started again on the
same port, to be a mail server that is down for a while."""

import socket
import threading
from email import message_from_bytes, policy
from email.message import Message

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Keeper:
    """aiosmtpd's handler: every message, parsed, with its envelope."""

    def __init__(self, inbox):
        self.inbox = inbox

    async def handle_DATA(self, server, session, envelope):
        # The default policy unfolds long headers (a subject with a long tag).
        received = message_from_bytes(envelope.content, policy=policy.default)
        self.inbox.append((list(envelope.rcpt_tos), received))
        return "250 OK"


class SmtpServer:
    def __init__(self):
        self.port = free_port()
        self._inbox: list[tuple[list[str], Message]] = []
        self._lock = threading.Lock()
        self._controller = None

    def start(self):
        self._controller = Controller(
            _Keeper(self._inbox), hostname="127.0.0.1", port=self.port
        )
        self._controller.start()

    def stop(self):
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def clear(self):
        with self._lock:
            self._inbox.clear()

    def to(self, address) -> list[Message]:
        """The messages received for `address`, oldest first."""
        with self._lock:
            return [message for rcpt, message in self._inbox if address in rcpt]

    @property
    def messages(self) -> list[Message]:
        with self._lock:
            return [message for _, message in self._inbox]

    def settings_env(self) -> dict[str, str]:
        """The variables that send a subprocess's mail (a worker's) here."""
        return {
            "DCHWEB_EMAIL_BACKEND": "smtp",
            "DCHWEB_EMAIL_HOST": "127.0.0.1",
            "DCHWEB_EMAIL_PORT": str(self.port),
            "DCHWEB_EMAIL_USE_TLS": "0",
            "DCHWEB_EMAIL_TIMEOUT": "5",
        }

    def use_in(self, settings):
        """Point this process's mail (pytest-django's `settings`) here."""
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = self.port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_TIMEOUT = 5


def body_of(message: Message) -> str:
    payload = message.get_payload(decode=True)
    return payload.decode() if isinstance(payload, bytes) else str(payload)

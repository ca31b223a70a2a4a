from datetime import datetime

from ninja import Schema

from hosts.lib import event_words


class NotificationOut(Schema):
    id: int
    event: str
    at: datetime
    object: dict
    summary: str
    mail_state: str

    @staticmethod
    def resolve_summary(notification):
        return event_words.describe(notification.event, notification.object)


class MailedEventOut(Schema):
    event: str
    label: str
    mailed: bool


class NotificationSettingsOut(Schema):
    email: str
    events: list[MailedEventOut]


class NotificationSettingsIn(Schema):
    mailed: list[str]

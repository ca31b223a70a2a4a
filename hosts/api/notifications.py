"""API v1 notifications: what you were told lately, and which events reach
you by mail (as /account/notifications/ shows and changes them); the work is
in hosts/notifications/preferences.py."""

from ninja import Router

from hosts.api.schemas.common import errors
from hosts.api.schemas.notifications import (
    NotificationOut,
    NotificationSettingsIn,
    NotificationSettingsOut,
)
from hosts.notifications import preferences

router = Router(tags=["notifications"])


@router.get(
    "/notifications",
    response={200: list[NotificationOut], **errors(400, 401)},
    summary="What I was told lately",
)
def recent(request):
    """The latest events that concerned you (admins: the installation's
    too), newest first, each in words (`summary`) and as its webhook body's
    `object`; `mail_state` says whether a mail went out."""
    return preferences.recent_for(request.auth)


@router.get(
    "/notification-settings",
    response={200: NotificationSettingsOut, **errors(400, 401)},
    summary="Which events reach me by mail",
)
def get_settings(request):
    return _settings_of(request.auth)


@router.put(
    "/notification-settings",
    response={200: NotificationSettingsOut, **errors(400, 401, 403)},
    summary="Choose which events reach me by mail",
)
def put_settings(request, payload: NotificationSettingsIn):
    """`mailed`: the events to get by mail from now on; your other events
    are not mailed. An event that is not yours to choose is a 400."""
    preferences.choose_mailed_events(request.auth, payload.mailed, request=request)
    return _settings_of(request.auth)


def _settings_of(user):
    mailed = set(preferences.mailed_events(user))
    return {
        "email": user.email or "",
        "events": [
            {"event": event, "label": label, "mailed": event in mailed}
            for event, label in preferences.events_for(user)
        ],
    }

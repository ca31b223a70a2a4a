"""Login throttling in the audit trail: axes' `user_locked_out` becomes a
`login.locked_out` event, once per lockout.

axes sends the signal on the failure that reaches the limit and again on every
refused attempt while the lockout lasts (each one restarts the wait); only the
first is an event worth reading, the rest are in axes' own attempt rows.
Connected in hosts/apps.py.
"""

from axes.helpers import get_cool_off, get_failure_limit
from axes.signals import user_locked_out
from django.contrib.auth import get_user_model

from hosts.core import audit

DISPATCH_UID = "hosts.accounts.signals.record_lockout"


def connect():
    user_locked_out.connect(record_lockout, dispatch_uid=DISPATCH_UID)


def record_lockout(sender, request, username, ip_address, **kwargs):
    failures = getattr(request, "axes_failures_since_start", None)
    limit = get_failure_limit(request, getattr(request, "axes_credentials", None))
    if failures is not None and failures != limit:
        return  # a refused attempt during a lockout already recorded
    cool_off = get_cool_off(request)
    User = get_user_model()
    user = User._default_manager.filter(**{User.USERNAME_FIELD: username}).first()
    audit.record(
        None,
        "login.locked_out",
        user,
        {
            "username": username or "",
            "ip_address": ip_address or "",
            "failures": failures,
            "lockout_minutes": int(cool_off.total_seconds() // 60)
            if cool_off
            else None,
        },
        request=request,
    )

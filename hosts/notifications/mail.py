"""Mailing a notification to the people it concerns (worker side)."""


def send_for(notification_id: int) -> None:
    """Mail the notification to whom it concerns, once."""
    # Part of issue 14 (notifications by mail): filled in by its change.

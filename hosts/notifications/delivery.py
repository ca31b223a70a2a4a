"""Posting notifications to webhooks, signed, with retries (worker side)."""


def plan_deliveries(notification_id: int) -> list[str]:
    """One delivery per active webhook that asked for the event; their ids."""
    # Part of issue 14 (webhooks): filled in by its change.
    return []

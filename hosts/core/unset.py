"""A keyword argument left out, where None is a value the caller may give
(a partial update: PATCH sends only what changes)."""

UNSET = object()

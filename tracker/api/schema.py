"""drf-spectacular hooks."""

from __future__ import annotations


def drop_trailing_slash_twins(endpoints: list, **kwargs) -> list:
    """Every API path also answers with a trailing slash; document each path once."""
    paths = {path for path, *_ in endpoints}
    return [
        endpoint
        for endpoint in endpoints
        if not (endpoint[0].endswith("/") and endpoint[0].rstrip("/") in paths)
    ]

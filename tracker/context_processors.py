from django.conf import settings


def tracker(request) -> dict:
    return {"require_auth": settings.TRACKER_REQUIRE_AUTH}

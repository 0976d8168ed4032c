from django.apps import AppConfig


class TrackerConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tracker"
    verbose_name = "Issue tracker"

    def ready(self) -> None:
        from tracker.services import webhooks

        webhooks.register_outbox()
        # Registers the notifications outbox with services.events.
        from tracker.services import notifications, watchers  # noqa: F401

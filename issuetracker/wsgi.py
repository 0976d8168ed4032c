import os
import sys

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "issuetracker.settings")

try:
    application = get_wsgi_application()
except ImproperlyConfigured as error:
    # A missing or invalid setting: one sentence rather than a traceback per worker. The
    # server then stops (granian on any worker's exit; gunicorn on status 3, "worker failed
    # to boot") instead of starting workers again and again.
    print(f"Configuration error: {error}", file=sys.stderr, flush=True)
    raise SystemExit(3) from None

#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "issuetracker.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as error:
        # A missing or invalid setting: say which in one sentence, not a traceback
        # (`--traceback` still shows it).
        if "--traceback" in sys.argv:
            raise
        sys.exit(f"Configuration error: {error}")


if __name__ == "__main__":
    main()

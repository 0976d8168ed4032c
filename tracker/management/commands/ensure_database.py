"""Create the PostgreSQL database named in DATABASE_URL if it does not exist yet."""

from __future__ import annotations

from typing import Any

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from psycopg import sql


class Command(BaseCommand):
    help = "Create the database named in DATABASE_URL when it is missing."

    def handle(self, *args, **options):
        db = settings.DATABASES["default"]
        params: dict[str, Any] = {
            "host": db.get("HOST") or None,
            "port": db.get("PORT") or None,
            "user": db.get("USER") or None,
            "password": db.get("PASSWORD") or None,
        }
        try:
            conn = psycopg.connect(dbname="postgres", connect_timeout=5, autocommit=True, **params)
        except psycopg.OperationalError as exc:
            where = f"{params['host'] or 'local socket'}:{params['port'] or 5432}"
            raise CommandError(
                f"Cannot reach PostgreSQL at {where} as user {params['user'] or '(default)'}: "
                "start PostgreSQL or set DATABASE_URL to a server you can reach "
                f"(driver said: {str(exc).strip().splitlines()[0]})."
            ) from exc
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]])
                if cursor.fetchone():
                    self.stdout.write(f"Database {db['NAME']} exists.")
                    return
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))
                self.stdout.write(self.style.SUCCESS(f"Created database {db['NAME']}."))
        finally:
            conn.close()

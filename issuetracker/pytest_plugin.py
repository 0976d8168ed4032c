"""Loaded by pytest before Django's settings (see pytest.ini): the settings refuse to load
without a secret key when debug is off, and tests run with debug off (set here, so that a
developer's .env, which never overrides the environment, cannot turn it on)."""

import os

os.environ.setdefault("DJANGO_DEBUG", "false")
os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
os.environ.setdefault("DJANGO_STATIC_MANIFEST", "false")

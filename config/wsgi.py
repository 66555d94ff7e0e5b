"""WSGI entry point: `gunicorn config.wsgi` in production."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django_application = get_wsgi_application()

# Infobip's webhook POSTs are answered outside Django's middleware stack (same checks, same
# answers; infobip/wsgi.py says why), everything else by Django.
from infobip.wsgi import WebhookDispatcher  # noqa: E402  (after Django's setup)

application = WebhookDispatcher(django_application)

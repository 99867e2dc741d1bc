"""WSGI entry point (gunicorn cerisepro.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cerisepro.settings")

application = get_wsgi_application()

"""The demo data of the quick start (``manage.py demo``): it uses every app, and no app uses it."""

from __future__ import annotations

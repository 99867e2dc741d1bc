"""The professional passport: its entries (services), one form per kind (forms), its pages (views, urls)."""

from __future__ import annotations

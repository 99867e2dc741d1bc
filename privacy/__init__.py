"""GDPR work on the students' records: retention and purge, and the right-of-access export."""

from __future__ import annotations

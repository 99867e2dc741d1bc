"""The manual path: a school without SIECLE receives a passport the old school authorised (docs/transfers.md).

``services`` holds the rules, ``views`` the school page, ``urls`` its routes; technical staff
execute authorisations from the Django admin (``transfers.admin``).
"""

from __future__ import annotations

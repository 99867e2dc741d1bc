"""The COPY line of a new student says exactly what ``_synced_values`` says of it (the one definition
of a student's values, shared with updates), whatever the characters: quotes, commas, backslashes,
line breaks, accents, empty values (docs/siecle-import.md, "A first import")."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from students.identity import SYNCED_FIELDS
from students.services import NEW_STUDENT_COLUMNS, _CopyLine, _synced_values
from students.siecle import SiecleStudent

NOW = datetime(2026, 10, 1, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))
TODAY = NOW.date()
LABELS = {"24725511330": 'BAC PRO "MELEC", 1re année', "24025010110": ""}

texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
dates = st.none() | st.dates(min_value=date(1990, 1, 1), max_value=date(2027, 12, 31))
rows = st.builds(
    SiecleStudent,
    siecle_id=texts,
    ine=st.sampled_from(["", "070832327JA", "1234", "0123456789AB"]) | texts,
    last_name=texts,
    first_name=texts,
    birth_date=dates,
    class_code=texts | st.just("Inactifs"),
    mef_code=st.sampled_from(["", "24725511330", "24025010110", "31023308210", "999"]) | texts,
    left_on=dates,
    entered_on=dates,
    previous_uai=st.sampled_from(["", "0750654D"]),
)


def parsed(line: str) -> dict[str, str | None]:
    """COPY's reading of a CSV line: an unquoted empty field is NULL, a quoted one an empty string."""
    fields = next(csv.reader(io.StringIO(line), strict=True))
    nulls = [part == "" for part in _unquoted_empty_fields(line)]
    return {
        column: None if is_null else value
        for column, value, is_null in zip(NEW_STUDENT_COLUMNS, fields, nulls, strict=True)
    }


def _unquoted_empty_fields(line: str) -> list[str]:
    """Each field as written (quotes kept), to tell NULL from an empty string."""
    fields, current, quoted = [], [], False
    for char in line.rstrip("\n"):
        if char == '"':
            quoted = not quoted
            current.append(char)
        elif char == "," and not quoted:
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
    fields.append("".join(current))
    return fields


@settings(max_examples=300, deadline=None)
@given(row=rows)
def test_the_copy_line_of_a_new_student_holds_its_synced_values(row):
    line = _CopyLine(7, 42, NOW, LABELS, TODAY)(row, "0" * 32)

    values = parsed(line)
    left = row.has_left(TODAY)
    synced = dict(zip(SYNCED_FIELDS, _synced_values(row, LABELS, None), strict=True))
    expected = {
        name: (value.isoformat() if value else None) if isinstance(value, date) or value is None else value
        for name, value in synced.items()
    }
    assert {name: values[name] for name in SYNCED_FIELDS} == expected
    assert (values["establishment_id"], values["created_by_import_id"], values["origin"]) == (
        "7",
        "42",
        "siecle",
    )
    assert values["is_active"] == ("f" if left else "t")
    assert values["deactivated_at"] == (NOW.isoformat() if left else None)
    assert values["deactivated_by_import_id"] == ("42" if left else None)

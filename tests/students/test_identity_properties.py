"""Property: whatever sequence of messy files a school imports, a record never becomes another child.

Hypothesis draws sequences of exports built from a small pool of children, each file mutated the
way real files are (SIECLE ids reassigned or swapped, INEs dropped or filled in, a name or a birth
date corrected, students leaving or missing). After every import, each stored record must still
be the child it was created for: its passport is only ever that child's.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from students.identity import comparable_name
from students.models import Student
from students.services import import_siecle_export
from students.siecle import SiecleFileError
from students.synthetic import make_students, render_export

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 1, 5, 9, 0, tzinfo=PARIS)
POOL = make_students(8, 4, leaving_ratio=0, without_ine_ratio=0, inactive_ratio=0)
SIECLE_IDS = [row.siecle_id for row in POOL] + ["9000001", "9000002"]

# One child of the pool as one file shows them.
appearance = st.fixed_dictionaries(
    {
        "child": st.integers(0, len(POOL) - 1),
        "siecle_id": st.sampled_from(SIECLE_IDS),
        "drop_ine": st.booleans(),
        "rename": st.booleans(),
        "redate": st.booleans(),
        "left": st.booleans(),
    }
)
files = st.lists(st.lists(appearance, min_size=1, max_size=6), min_size=1, max_size=5)


def render_file(establishment, appearances, exported_at) -> bytes:
    rows, children, ids = [], set(), set()
    for item in appearances:
        if item["child"] in children or item["siecle_id"] in ids:
            continue  # a real file never lists a child or a SIECLE id twice
        children.add(item["child"])
        ids.add(item["siecle_id"])
        child = POOL[item["child"]]
        rows.append(
            dataclasses.replace(
                child,
                siecle_id=item["siecle_id"],
                ine="" if item["drop_ine"] else child.ine,
                last_name=child.last_name + ("-CORRIGÉ" if item["rename"] else ""),
                birth_date=child.birth_date + timedelta(days=1) if item["redate"] else child.birth_date,
                left_on=exported_at.date() - timedelta(days=1) if item["left"] else None,
            )
        )
    return render_export(establishment.uai, rows, exported_at=exported_at)


def child_of(student: Student) -> int:
    """Which child of the pool a record was created for: by INE, else by its first name and class."""
    for index, child in enumerate(POOL):
        base_name = comparable_name(student.last_name).removesuffix("corrige")
        if base_name == comparable_name(child.last_name) and student.first_name == child.first_name:
            return index
    raise AssertionError(f"record {student.pk} matches no child")


def born_on(index: int) -> set[date]:
    child = POOL[index]
    return {child.birth_date, child.birth_date + timedelta(days=1)}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=files)
def test_no_sequence_of_imports_turns_a_record_into_another_child(establishment, sequence):
    Student.objects.filter(establishment=establishment).delete()
    establishment.imports.all().delete()
    owners: dict[int, int] = {}
    for step, appearances in enumerate(sequence):
        now = START + timedelta(days=7 * step)
        data = render_file(establishment, appearances, now)
        try:
            import_siecle_export(establishment, data, "f.xml", now=now, confirm_mass_deactivation=True)
        except SiecleFileError:
            continue  # a refused file changes nothing; the invariant is checked below all the same
        for student in Student.objects.filter(establishment=establishment):
            owner = owners.setdefault(student.pk, child_of(student))
            assert child_of(student) == owner, "a record changed child"
            assert student.birth_date in born_on(owner)
            assert student.ine in ("", POOL[owner].ine), "a record got another child's INE"
        active_children = [
            child_of(s) for s in Student.objects.filter(establishment=establishment, is_active=True)
        ]
        assert len(active_children) == len(set(active_children)), "one child twice among active students"


def test_the_pool_of_children_can_tell_its_children_apart():
    names = {(comparable_name(child.last_name), child.first_name) for child in POOL}
    assert len(names) == len(POOL)

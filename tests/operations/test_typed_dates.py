"""Every date a user can type is bounded: 31/12/9999 gets a French message, never HTTP 500."""

from __future__ import annotations

import pytest
from django.urls import reverse

from students.passport.forms import FORMS


@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01", "1899-12-31"])
@pytest.mark.parametrize("key", ["du", "au"])
def test_the_history_filters_answer_an_extreme_date_with_a_french_message(client_for, admin_user, key, value):
    url = reverse("transfer-history", args=[admin_user.establishment.uai])

    response = client_for(admin_user).get(url, {key: value})

    assert response.status_code == 200
    assert "Saisissez une date comprise entre 1900 et 2100." in response.content.decode()


def test_the_history_export_refuses_an_extreme_date(client_for, admin_user):
    url = reverse("transfer-history-csv", args=[admin_user.establishment.uai])

    response = client_for(admin_user).get(url, {"direction": "recus", "au": "9999-12-31"})

    assert response.status_code == 400


def test_the_history_still_filters_on_plausible_dates(client_for, admin_user):
    url = reverse("transfer-history", args=[admin_user.establishment.uai])

    response = client_for(admin_user).get(url, {"du": "2026-09-01", "au": "2100-12-31"})

    assert response.status_code == 200 and "Saisissez une date" not in response.content.decode()


@pytest.mark.parametrize("form_class", FORMS.values())
def test_a_passport_entry_dated_in_year_9999_is_refused_in_french(form_class):
    form = form_class(data={"occurred_on": "9999-12-31", "end_on": "9999-12-31"})

    assert not form.is_valid()
    assert "Saisissez une date comprise entre 1900 et 2100." in form.errors["occurred_on"]

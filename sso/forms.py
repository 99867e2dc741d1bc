"""Forms of *Paramètres › Connexion*, of the links page and of the ENT export's import."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from cerisepro.forms import SafeInputMixin

from .models import LoginMode
from .services import CAS_USER_MAX_LENGTH, known_ents


class LoginSettingsForm(SafeInputMixin, forms.Form):
    mode = forms.ChoiceField(
        label=_("Comment les utilisateurs de l'établissement se connectent-ils ?"),
        choices=LoginMode.choices,
        widget=forms.RadioSelect,
    )
    known_ent = forms.ChoiceField(
        label=_("ENT de l'établissement"),
        required=False,
        help_text=_(
            "Choisissez votre ENT ; s'il n'est pas dans la liste, saisissez l'adresse de son serveur CAS."
        ),
    )
    cas_server_url = forms.CharField(
        label=_("Adresse du serveur CAS (si l'ENT n'est pas dans la liste)"),
        required=False,
        max_length=300,
        help_text=_(
            "Adresse https fournie par le responsable de l'ENT, par exemple https://ent.example.fr/cas/. "
            "Changer de serveur supprime les liens entre comptes ENT et comptes cerisepro."
        ),
        widget=forms.TextInput(attrs={"inputmode": "url", "autocomplete": "off", "spellcheck": "false"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", _("Autre ENT : saisir l'adresse ci-dessous"))]
        self.fields["known_ent"].choices = choices + [
            (key, name) for key, (name, _url) in known_ents().items()
        ]


class CasLinkForm(SafeInputMixin, forms.Form):
    user = forms.IntegerField(widget=forms.HiddenInput)
    cas_user = forms.CharField(label=_("Identifiant ENT"), max_length=CAS_USER_MAX_LENGTH)


class CasLinkRemoveForm(forms.Form):
    user = forms.IntegerField(widget=forms.HiddenInput)


class EntExportForm(forms.Form):
    export = forms.FileField(
        label=_("Export des comptes de l'ENT (fichier CSV)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )


class EntChooseForm(SafeInputMixin, forms.Form):
    uai = forms.CharField(
        label=_("UAI de votre établissement"),
        max_length=8,
        help_text=_("Le code à 7 chiffres et une lettre de l'établissement, par exemple 0750654D."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )

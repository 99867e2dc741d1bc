"""One form per *Paramètres* tab. Forms parse input; the services apply the rules.

Every form with text inputs strips invisible and control characters (:class:`SafeInputMixin`).
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from cerisepro.forms import SafeInputMixin

from .images import sanitize_image
from .models import Establishment
from .services import DETAIL_FIELDS
from .validators import normalize_cnil_number, validate_cnil_number


class DetailsForm(SafeInputMixin, forms.ModelForm):
    website = forms.URLField(label=_("Site web"), required=False, assume_scheme="https")

    class Meta:
        model = Establishment
        fields = DETAIL_FIELDS
        labels = {"uses_siecle": _("L'établissement utilise SIECLE")}
        # Django's French says "courriel"; the page says "adresse e-mail".
        error_messages = {"email": {"invalid": _("Saisissez une adresse e-mail valide.")}}


class ImageForm(forms.Form):
    KIND_CHOICES = [("logo", _("Logo")), ("stamp", _("Cachet"))]

    kind = forms.ChoiceField(choices=KIND_CHOICES, widget=forms.HiddenInput)
    image = forms.FileField(
        label=_("Fichier PNG ou JPEG (2 Mo au plus)"),
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg"}),
    )

    def clean_image(self):
        return sanitize_image(self.cleaned_data["image"])


class ImageDeleteForm(forms.Form):
    kind = forms.ChoiceField(choices=ImageForm.KIND_CHOICES, widget=forms.HiddenInput)


class TransferForm(SafeInputMixin, forms.Form):
    cnil_declaration_number = forms.CharField(
        label=_("Numéro de déclaration CNIL"),
        required=False,
        max_length=30,
        help_text=_(
            "Numéro du récépissé CNIL (déclaration normale ou demande d'avis), par exemple "
            "« 1929152 V0 ». Il est nécessaire pour activer le transfert."
        ),
    )
    transfer_enabled = forms.TypedChoiceField(
        label=_("Souhaitez-vous activer le transfert des passeports professionnels de vos élèves ?"),
        choices=[("oui", _("Oui")), ("non", _("Non"))],
        widget=forms.RadioSelect,
        coerce=lambda value: value == "oui",
    )
    # docs/transfers.md §9: the reminder e-mails about waiting passports (on by default).
    # Radio buttons as above; absent from a POST (an older form): left unchanged (None).
    transfer_reminders_enabled = forms.TypedChoiceField(
        label=_("Recevoir les rappels par e-mail sur les passeports en attente ?"),
        choices=[("oui", _("Oui")), ("non", _("Non"))],
        widget=forms.RadioSelect,
        coerce=lambda value: value == "oui",
        empty_value=None,
        required=False,
        help_text=_(
            "Au plus un rappel par semaine tant que des passeports attendent l'activation du transfert, "
            "et un avis 30 puis 7 jours avant la fin du délai de transfert. Ces e-mails, envoyés aux "
            "administrateurs, ne contiennent aucun nom d'élève."
        ),
    )

    def clean_cnil_declaration_number(self) -> str:
        number = normalize_cnil_number(self.cleaned_data["cnil_declaration_number"])
        if number:
            validate_cnil_number(number)
        return number

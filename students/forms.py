from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from cerisepro.forms import SafeInputMixin

MAX_UPLOAD_BYTES = 100 * 1024 * 1024


class SiecleUploadForm(forms.Form):
    export = forms.FileField(
        label=_("Export SIECLE des élèves"),
        help_text=_(
            "Le fichier ElevesSansAdresses.xml (ou ElevesAvecAdresses.xml), ou l'archive ZIP "
            "telle que SIECLE la fournit."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".xml,.zip"}),
    )
    nomenclature = forms.FileField(
        label=_("Nomenclature (facultatif)"),
        required=False,
        help_text=_("Le fichier Nomenclature.xml : il donne le libellé des formations."),
        widget=forms.ClearableFileInput(attrs={"accept": ".xml,.zip"}),
    )

    def _clean_file(self, name: str) -> bytes | None:
        upload = self.cleaned_data.get(name)
        if not upload:
            return None
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("Le fichier est trop volumineux (100 Mo au plus)."))
        return upload

    def clean_export(self):
        return self._clean_file("export")

    def clean_nomenclature(self):
        return self._clean_file("nomenclature")


class ImportConfirmForm(forms.Form):
    confirm_mass_deactivation = forms.BooleanField(
        label=_("Je confirme la désactivation de plus de la moitié des élèves actifs."), required=False
    )
    allow_older = forms.BooleanField(
        label=_("J'importe volontairement cet export plus ancien que le dernier fichier importé."),
        required=False,
    )


class StudentFilterForm(SafeInputMixin, forms.Form):
    q = forms.CharField(label=_("Nom ou prénom"), required=False, max_length=100)
    classe = forms.ChoiceField(label=_("Classe"), required=False)
    statut = forms.ChoiceField(
        label=_("Statut"),
        required=False,
        choices=[("actifs", _("Actifs")), ("inactifs", _("Inactifs")), ("tous", _("Tous"))],
    )

    def __init__(self, *args, class_codes: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        classe = self.fields["classe"]
        assert isinstance(classe, forms.ChoiceField)
        classe.choices = [("", _("Toutes"))] + [(code, code) for code in class_codes]

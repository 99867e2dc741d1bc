"""Forms of the login's second step, of the enrolment, of the re-authentication, of "Mot de passe
oublié ?" and of *Paramètres › Utilisateurs*."""

from __future__ import annotations

from django import forms
from django.contrib.auth import authenticate
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cerisepro.forms import SafeInputMixin
from establishments.access import AuthenticatedRequest
from establishments.models import Role, User

from . import otp

CODE_LABEL = gettext_lazy("Code de vérification")
CODE_HELP = gettext_lazy("Les 6 chiffres affichés par votre application, ou l'un de vos codes de secours.")


def code_field(label=CODE_LABEL, help_text=CODE_HELP) -> forms.CharField:
    return forms.CharField(
        label=label,
        help_text=help_text,
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autocapitalize": "off"}),
    )


def _refusal(verification: otp.Verification) -> str:
    if verification.retry_at:
        seconds = max(1, int((verification.retry_at - timezone.now()).total_seconds()) + 1)
        return _("Trop de codes erronés : patientez %(seconds)s secondes avant de réessayer.") % {
            "seconds": formats.number_format(seconds)
        }
    return _("Code incorrect ou expiré. Vérifiez l'heure de votre téléphone et réessayez.")


class SecondFactorForm(forms.Form):
    """The login's second step: a code of the user's application or a recovery code."""

    otp_token = code_field()

    def __init__(self, user: User, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.verification: otp.Verification | None = None

    def clean_otp_token(self) -> str:
        token = self.cleaned_data["otp_token"]
        self.verification = otp.second_factor_verify(self.user, token)
        if self.verification.device is None:
            raise forms.ValidationError(_refusal(self.verification), code="invalid_token")
        return token


class EnrolForm(forms.Form):
    """Confirms that the application was set up: the code it shows now."""

    otp_token = code_field(
        label=gettext_lazy("Code affiché par l'application"),
        help_text=gettext_lazy("Les 6 chiffres que l'application affiche pour cerisepro."),
    )

    def __init__(self, user: User, key: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user, self.key = user, key
        self.recovery_codes: list[str] | None = None

    def clean_otp_token(self) -> str:
        token = self.cleaned_data["otp_token"]
        self.recovery_codes = otp.totp_enrol(self.user, self.key, token)
        if self.recovery_codes is None:
            raise forms.ValidationError(
                _("Code incorrect : saisissez le code à 6 chiffres affiché en ce moment par l'application."),
                code="invalid_token",
            )
        return token


class ReauthenticationForm(forms.Form):
    """Password, and second factor when enrolled, before a sensitive action."""

    password = forms.CharField(
        label=gettext_lazy("Mot de passe"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    otp_token = code_field()
    prefix = "reauth"  # keeps its fields apart from those of the form being confirmed

    def __init__(self, request: AuthenticatedRequest, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        self.user = request.user
        self.with_second_factor = otp.second_factor_required(self.user) == otp.VERIFY
        if not self.with_second_factor:
            del self.fields["otp_token"]

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        # Through authenticate(): the attempt counts towards the login throttling (django-axes).
        user = authenticate(self.request, username=self.user.get_username(), password=password)
        if user is None or user.pk != self.user.pk:
            raise forms.ValidationError(_("Mot de passe incorrect."), code="invalid_password")
        return password

    def clean(self):
        cleaned = super().clean()
        # The code is checked only once the password is right: a wrong password must not use up
        # a recovery code or count against the application's throttling.
        if self.with_second_factor and "password" in cleaned and cleaned.get("otp_token"):
            verification = otp.second_factor_verify(self.user, cleaned["otp_token"])
            if verification.device is None:
                self.add_error(
                    "otp_token", forms.ValidationError(_refusal(verification), code="invalid_token")
                )
        return cleaned


class PasswordResetRequestForm(SafeInputMixin, forms.Form):
    """ "Mot de passe oublié ?": the address the link goes to."""

    email = forms.EmailField(
        label=gettext_lazy("Adresse e-mail"),
        max_length=254,
        help_text=gettext_lazy("L'adresse enregistrée pour votre compte cerisepro."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


class StaffUserForm(SafeInputMixin, forms.Form):
    """*Paramètres › Utilisateurs*: a new user (with a login) or an existing one (without)."""

    last_name = forms.CharField(label=gettext_lazy("Nom"), max_length=150)
    first_name = forms.CharField(label=gettext_lazy("Prénom"), max_length=150)
    email = forms.EmailField(
        label=gettext_lazy("Adresse e-mail"),
        max_length=254,
        help_text=gettext_lazy("Un lien pour choisir le mot de passe y est envoyé."),
    )
    username = forms.CharField(
        label=gettext_lazy("Identifiant de connexion"),
        max_length=150,
        help_text=gettext_lazy(
            "Lettres sans accent, chiffres, point, tiret ou tiret bas ; par exemple c.martin."
        ),
        widget=forms.TextInput(attrs={"autocapitalize": "off", "autocomplete": "off", "spellcheck": "false"}),
    )
    role = forms.ChoiceField(label=gettext_lazy("Rôle"), choices=())

    def __init__(self, *args, roles: tuple[str, ...], with_login: bool, **kwargs):
        super().__init__(*args, **kwargs)
        role_field = self.fields["role"]
        assert isinstance(role_field, forms.ChoiceField)
        role_field.choices = [(role, Role(role).label) for role in roles]
        if not with_login:
            del self.fields["username"]

"""Django admin of the transfers app (technical staff)."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from cerisepro.forms import SafeInputMixin
from establishments.access import signed_in_user
from establishments.admin import ReadOnlyAdmin
from establishments.models import Establishment
from students.ine import normalize_ine

from . import national, review, undo
from .diagnostic import eligibility_diagnostic
from .manual import services as manual
from .models import Cause, ManualAuthorisation, MatchingRun, Transfer, TransferReport, Trigger
from .plan import Outcome
from .run import run_matching

CREATE = "creer"


def _require_perm(request: HttpRequest, codename: str) -> None:
    # The admin's has_change_permission is False on purpose (read-only forms): check the model
    # permission itself for the service buttons.
    if not request.user.has_perm(f"transfers.{codename}"):
        raise PermissionDenied


def _context(model_admin: admin.ModelAdmin, request: HttpRequest, title: str, **extra) -> dict:
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": title,
        **extra,
    }


# --- manual-transfer authorisations ---------------------------------------------------------


class ExecuteForm(SafeInputMixin, forms.Form):
    destination = forms.ChoiceField(label=gettext_lazy("Élève dans l'établissement de destination"))

    def __init__(self, data=None, *, same_ine, others):
        super().__init__(data)
        self.students = {str(s.public_id): s for s in [*same_ine, *others]}
        choices: list = [(CREATE, _("Créer l'élève dans l'établissement de destination"))]
        if same_ine:
            choices.append((_("Même INE"), [(str(s.public_id), _label(s)) for s in same_ine]))
        if others:
            choices.append(
                (_("Autres élèves de l'établissement"), [(str(s.public_id), _label(s)) for s in others])
            )
        self.fields["destination"].choices = choices
        self.fields["destination"].initial = str(same_ine[0].public_id) if same_ine else CREATE


def _label(student) -> str:
    born = student.birth_date.strftime("%d/%m/%Y") if student.birth_date else "—"
    state = _("actif") if student.is_active else _("inactif")
    ine, class_code = student.ine or "—", student.class_code or "—"
    return f"{student.display_name} — né(e) le {born} — INE {ine} — {class_code} ({state})"


@admin.register(ManualAuthorisation)
class ManualAuthorisationAdmin(ReadOnlyAdmin):
    list_display = (
        "authorised_at",
        "origin_establishment",
        "origin_student",
        "destination_uai",
        "destination_name",
        "status",
        "handled_by",
        "handled_at",
        "actions_column",
    )
    list_filter = ("status",)
    search_fields = ("destination_uai", "origin_establishment__uai")
    list_select_related = ("origin_establishment", "origin_student", "handled_by")
    date_hierarchy = "authorised_at"
    readonly_fields = (
        "origin_student",
        "origin_establishment",
        "destination_uai",
        "destination_name",
        "consent_confirmed",
        "status",
        "authorised_by",
        "authorised_at",
        "handled_by",
        "handled_at",
        "transfer",
    )
    fields = readonly_fields
    change_form_template = "admin/transfers/manualauthorisation/change_form.html"
    audited_fields = ("origin_establishment",)

    def get_queryset(self, request: HttpRequest):
        names = Establishment.objects.filter(uai=OuterRef("destination_uai")).values("name")[:1]
        return super().get_queryset(request).annotate(destination_name=Subquery(names))

    @admin.display(description=gettext_lazy("établissement de destination"))
    def destination_name(self, obj: ManualAuthorisation) -> str:
        # Annotated by get_queryset (None when the destination UAI is not registered).
        return getattr(obj, "destination_name", None) or _("non enregistré")

    @admin.display(description=gettext_lazy("actions"))
    def actions_column(self, obj: ManualAuthorisation) -> str:
        if obj.status != ManualAuthorisation.Status.PENDING:
            return "—"
        return format_html(
            '<a class="button" href="{}">{}</a> <a class="button" href="{}">{}</a>',
            reverse("admin:transfers_manualauthorisation_execute", args=[obj.pk]),
            _("Exécuter"),
            reverse("admin:transfers_manualauthorisation_cancel", args=[obj.pk]),
            _("Annuler"),
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/executer/", view(self.execute_view), name="transfers_manualauthorisation_execute"),
            path("<int:pk>/annuler/", view(self.cancel_view), name="transfers_manualauthorisation_cancel"),
            *super().get_urls(),
        ]

    def _change_url(self, authorisation: ManualAuthorisation) -> str:
        return reverse("admin:transfers_manualauthorisation_change", args=[authorisation.pk])

    def execute_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        _require_perm(request, "change_manualauthorisation")
        authorisation = get_object_or_404(
            ManualAuthorisation.objects.select_related("origin_student", "origin_establishment"), pk=pk
        )
        if authorisation.status != ManualAuthorisation.Status.PENDING:
            messages.error(request, _("Cette autorisation n'est plus en attente."))
            return redirect(self._change_url(authorisation))
        try:
            same_ine, others = manual.destination_candidates(authorisation)
        except ValidationError as error:
            messages.error(request, error.messages[0])
            return redirect(self._change_url(authorisation))
        form = ExecuteForm(
            request.POST if request.method == "POST" else None, same_ine=same_ine, others=others
        )
        if request.method == "POST" and form.is_valid():
            choice = form.cleaned_data["destination"]
            try:
                transfer = manual.manual_authorisation_execute(
                    authorisation,
                    user=signed_in_user(request),
                    now=timezone.now(),
                    destination_student=form.students.get(choice),
                    create_student=choice == CREATE,
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                self.log_change(request, authorisation, _("Transfert manuel exécuté."))
                messages.success(
                    request,
                    ngettext(
                        "Transfert effectué : %(count)d entrée du passeport copiée.",
                        "Transfert effectué : %(count)d entrées du passeport copiées.",
                        transfer.entries_copied,
                    )
                    % {"count": transfer.entries_copied},
                )
                return redirect(self._change_url(authorisation))
        context = _context(
            self,
            request,
            _("Exécuter le transfert manuel"),
            authorisation=authorisation,
            destination=manual.destination_establishment(authorisation),
            form=form,
        )
        return TemplateResponse(request, "admin/transfers/manualauthorisation/execute.html", context)

    def cancel_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        _require_perm(request, "change_manualauthorisation")
        authorisation = get_object_or_404(ManualAuthorisation.objects.select_related("origin_student"), pk=pk)
        form = CancelReasonForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            reason = form.cleaned_data["reason"]
            try:
                manual.manual_authorisation_cancel(
                    authorisation, user=signed_in_user(request), now=timezone.now(), reason=reason
                )
            except ValidationError as error:
                messages.error(request, error.messages[0])
            else:
                self.log_change(
                    request, authorisation, _("Autorisation annulée : %(reason)s") % {"reason": reason}
                )
                messages.success(request, _("Autorisation annulée."))
            return redirect(self._change_url(authorisation))
        context = _context(self, request, _("Annuler l'autorisation"), authorisation=authorisation, form=form)
        return TemplateResponse(request, "admin/transfers/manualauthorisation/cancel.html", context)


# --- transfer history -----------------------------------------------------------------------


class ReviewForm(SafeInputMixin, forms.Form):
    decision = forms.ChoiceField(
        label=gettext_lazy("Décision"),
        choices=[
            ("liberer", gettext_lazy("Libérer : copier le passeport")),
            ("refuser", gettext_lazy("Refuser")),
        ],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label=gettext_lazy("Note (vérifications faites)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ReasonForm(SafeInputMixin, forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Motif"),
        max_length=undo.MAX_REASON_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "Obligatoire. Il figure dans l'historique des deux établissements et dans l'e-mail envoyé "
            "à leurs administrateurs : n'y écrivez ni nom d'élève, ni INE, ni nom d'un autre établissement."
        ),
    )


class CancelReasonForm(SafeInputMixin, forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Motif"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "Obligatoire. L'établissement d'origine le lit sur sa page Transferts : dites ce qu'il doit "
            "corriger (par exemple l'UAI de destination), sans nom d'élève ni INE."
        ),
    )


class DiagnosticForm(SafeInputMixin, forms.Form):
    ine = forms.CharField(label=gettext_lazy("INE de l'élève"), max_length=20)

    def clean_ine(self) -> str:
        return normalize_ine(self.cleaned_data["ine"])


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "kind",
        "done",
        "cause",
        "origin_establishment",
        "destination_establishment",
        "student_name",
        "entries_copied",
        "user",
        "force_column",
    )
    list_filter = ("kind", "done", "cause", "hold_reason", ("undone_at", admin.EmptyFieldListFilter))
    search_fields = ("origin_establishment__uai", "destination_establishment__uai", "=ine")
    date_hierarchy = "created_at"
    list_select_related = ("origin_establishment", "destination_establishment", "user")
    change_list_template = "admin/transfers/transfer/change_list.html"
    change_form_template = "admin/transfers/transfer/change_form.html"
    audited_fields = ("origin_establishment", "destination_establishment")

    @admin.display(description=gettext_lazy("entrées copiées"))
    def entries_copied(self, obj: Transfer) -> int:
        return obj.entries_copied

    @admin.display(description="")
    def force_column(self, obj: Transfer) -> str:
        if obj.done:
            return format_html(
                '<a class="button" href="{}">{}</a>',
                reverse("admin:transfers_transfer_undo", args=[obj.pk]),
                _("Annuler"),
            )
        if undo.transfer_is_reopenable(obj):
            return format_html(
                '<a class="button" href="{}">{}</a>',
                reverse("admin:transfers_transfer_reopen", args=[obj.pk]),
                _("Rouvrir"),
            )
        if review.transfer_is_held(obj):
            return format_html(
                '<a class="button" href="{}">{}</a>',
                reverse("admin:transfers_transfer_review", args=[obj.pk]),
                _("Vérifier"),
            )
        if not review.transfer_is_forceable(obj):
            return ""
        return format_html(
            '<a class="button" href="{}">{}</a>',
            reverse("admin:transfers_transfer_force", args=[obj.pk]),
            _("Forcer le transfert"),
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("diagnostic/", view(self.diagnostic_view), name="transfers_transfer_diagnostic"),
            path("<int:pk>/forcer/", view(self.force_view), name="transfers_transfer_force"),
            path("<int:pk>/verifier/", view(self.review_view), name="transfers_transfer_review"),
            path("<int:pk>/annuler/", view(self.undo_view), name="transfers_transfer_undo"),
            path("<int:pk>/rouvrir/", view(self.reopen_view), name="transfers_transfer_reopen"),
            *super().get_urls(),
        ]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        transfer = self.get_object(request, object_id)
        extra_context = {
            **(extra_context or {}),
            "forceable": transfer is not None and review.transfer_is_forceable(transfer),
            "held": transfer is not None and review.transfer_is_held(transfer),
            "undoable": transfer is not None and transfer.done,
            "reopenable": transfer is not None and undo.transfer_is_reopenable(transfer),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def force_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        _require_perm(request, "change_transfer")
        transfer = get_object_or_404(
            Transfer.objects.select_related("origin_establishment", "destination_establishment"), pk=pk
        )
        change_url = reverse("admin:transfers_transfer_change", args=[transfer.pk])
        if request.method == "POST":
            try:
                transfer = review.transfer_force(transfer, user=signed_in_user(request), now=timezone.now())
            except ValidationError as error:
                messages.error(request, error.messages[0])
            else:
                self.log_change(request, transfer, _("Transfert forcé."))
                messages.success(
                    request,
                    ngettext(
                        "Transfert forcé : %(count)d entrée du passeport copiée.",
                        "Transfert forcé : %(count)d entrées du passeport copiées.",
                        transfer.entries_copied,
                    )
                    % {"count": transfer.entries_copied},
                )
            return HttpResponseRedirect(change_url)
        if not review.transfer_is_forceable(transfer):
            messages.error(request, _("Seul un transfert refusé pour changement de diplôme peut être forcé."))
            return HttpResponseRedirect(change_url)
        context = _context(self, request, _("Forcer le transfert"), transfer=transfer, change_url=change_url)
        return TemplateResponse(request, "admin/transfers/transfer/force.html", context)

    def review_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """A pair held for review (docs/transfers.md §4): staff release it or refuse it."""
        _require_perm(request, "change_transfer")
        transfer = get_object_or_404(
            Transfer.objects.select_related("origin_establishment", "destination_establishment"), pk=pk
        )
        change_url = reverse("admin:transfers_transfer_change", args=[transfer.pk])
        if not review.transfer_is_held(transfer):
            messages.error(request, _("Ce transfert n'est pas en attente de vérification."))
            return HttpResponseRedirect(change_url)
        form = ReviewForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            release = form.cleaned_data["decision"] == "liberer"
            act = review.transfer_release if release else review.transfer_refuse_held
            try:
                transfer = act(
                    transfer, user=signed_in_user(request), now=timezone.now(), note=form.cleaned_data["note"]
                )
            except ValidationError as error:
                messages.error(request, error.messages[0])
            else:
                verdict = (
                    _("Transfert libéré après vérification.")
                    if release
                    else _("Transfert refusé après vérification.")
                )
                self.log_change(request, transfer, verdict)
                messages.success(request, verdict)
            return HttpResponseRedirect(change_url)
        context = _context(
            self, request, _("Vérifier le transfert"), transfer=transfer, change_url=change_url, form=form
        )
        return TemplateResponse(request, "admin/transfers/transfer/review.html", context)

    def undo_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Undo a transfer (docs/transfers.md "Undoing a transfer"): a confirmation page with the reason."""
        _require_perm(request, "change_transfer")
        transfer = self._transfer(pk)
        form = ReasonForm(request.POST if request.method == "POST" else None)
        done, refusal = self._act_with_reason(
            request,
            transfer,
            form,
            undo.transfer_undo_refusal(transfer, now=timezone.now()),
            act=undo.transfer_undo,
            logged=_("Transfert annulé. Motif : %(reason)s"),
            success=lambda undone: (
                ngettext(
                    "Transfert annulé : %(count)d entrée retirée du passeport de destination. "
                    "Les deux établissements sont prévenus.",
                    "Transfert annulé : %(count)d entrées retirées du passeport de destination. "
                    "Les deux établissements sont prévenus.",
                    undone.entries_copied,
                )
                % {"count": undone.entries_copied}
            ),
        )
        if done is not None:
            return done
        explanation = _(
            "L'annulation retire du passeport de l'élève, dans l'établissement de destination, les "
            "%(count)d entrées copiées par ce transfert (aucune n'a été modifiée depuis). La ligne reste "
            "dans l'historique des deux établissements avec la mention « annulé » et le motif ; le "
            "rapprochement ne décidera plus cette paire, sauf si vous la rouvrez. Les administrateurs des "
            "deux établissements sont prévenus par e-mail. L'action est enregistrée à votre nom."
        ) % {"count": transfer.entries_copied}
        return self._reason_page(
            request, transfer, form, _("Annuler le transfert"), explanation=explanation, refusal=refusal
        )

    def reopen_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Let the job decide an undone pair again."""
        _require_perm(request, "change_transfer")
        transfer = self._transfer(pk)
        form = ReasonForm(request.POST if request.method == "POST" else None)
        done, refusal = self._act_with_reason(
            request,
            transfer,
            form,
            ""
            if undo.transfer_is_reopenable(transfer)
            else _("Seul un transfert annulé, et pas encore rouvert, peut être rouvert."),
            act=undo.transfer_reopen,
            logged=_("Paire rouverte. Motif : %(reason)s"),
            success=lambda _reopened: _(
                "Paire rouverte : le prochain rapprochement pourra la décider de nouveau."
            ),
        )
        if done is not None:
            return done
        explanation = _(
            "Rouvrir la paire permet au rapprochement de la décider de nouveau à sa prochaine exécution, "
            "si les conditions du transfert sont toujours remplies (dans les six mois). La ligne annulée "
            "reste dans l'historique. L'action est enregistrée à votre nom."
        )
        return self._reason_page(
            request, transfer, form, _("Rouvrir la paire"), explanation=explanation, refusal=refusal
        )

    def _act_with_reason(
        self,
        request: HttpRequest,
        transfer: Transfer,
        form: ReasonForm,
        refusal: str,
        *,
        act: Callable[..., Transfer],
        logged: str,
        success: Callable[[Transfer], str],
    ) -> tuple[HttpResponse | None, str]:
        """The undo and re-open pages' POST: with a valid reason and nothing refused, the service
        acts, the admin log and a message say so, and the answer goes back to the transfer's page.
        Otherwise no answer yet, and the refusal (the service's, if it refused) for the page."""
        if request.method != "POST" or refusal or not form.is_valid():
            return None, refusal
        reason = form.cleaned_data["reason"]
        try:
            transfer = act(transfer, user=signed_in_user(request), now=timezone.now(), reason=reason)
        except ValidationError as error:
            return None, error.messages[0]
        self.log_change(request, transfer, logged % {"reason": reason})
        messages.success(request, success(transfer))
        return HttpResponseRedirect(reverse("admin:transfers_transfer_change", args=[transfer.pk])), ""

    def _transfer(self, pk: int) -> Transfer:
        related = ("origin_establishment", "destination_establishment", "undone_by")
        return get_object_or_404(Transfer.objects.select_related(*related), pk=pk)

    def _reason_page(
        self, request: HttpRequest, transfer: Transfer, form: ReasonForm, title: str, **extra
    ) -> HttpResponse:
        change_url = reverse("admin:transfers_transfer_change", args=[transfer.pk])
        context = _context(
            self,
            request,
            title,
            transfer=transfer,
            change_url=change_url,
            form=form,
            action_label=title,
            **extra,
        )
        return TemplateResponse(request, "admin/transfers/transfer/undo.html", context)

    def diagnostic_view(self, request: HttpRequest) -> HttpResponse:
        """Why hasn't this student's passport arrived? The INE travels in the POST body only."""
        _require_perm(request, "view_transfer")
        form = DiagnosticForm(request.POST if request.method == "POST" else None)
        diagnostic = None
        if request.method == "POST" and form.is_valid():
            diagnostic = eligibility_diagnostic(form.cleaned_data["ine"], now=timezone.now())
        context = _context(
            self, request, _("Diagnostic d'éligibilité au transfert"), form=form, diagnostic=diagnostic
        )
        return TemplateResponse(request, "admin/transfers/diagnostic.html", context)


# --- runs of the matching job ---------------------------------------------------------------


@admin.register(MatchingRun)
class MatchingRunAdmin(ReadOnlyAdmin):
    list_display = (
        "started_at",
        "trigger",
        "establishment",
        "status",
        "pairs_decided",
        "transfers_done",
        "entries_copied",
        "error_count",
        "finished_at",
    )
    list_filter = ("status", "trigger")
    date_hierarchy = "started_at"
    list_select_related = ("establishment",)
    readonly_fields = (
        "started_at",
        "finished_at",
        "as_of",
        "trigger",
        "establishment",
        "status",
        "pairs_decided",
        "transfers_done",
        "entries_copied",
        "counts_display",
        "errors_display",
        "failures_display",
    )
    fields = readonly_fields
    change_list_template = "admin/transfers/matchingrun/change_list.html"

    @admin.display(description=gettext_lazy("erreurs"))
    def error_count(self, obj: MatchingRun) -> int:
        return len(obj.errors) + len(obj.failures)

    @admin.display(description=gettext_lazy("décomptes par issue"))
    def counts_display(self, obj: MatchingRun) -> str:
        if not obj.counts:
            return "—"
        return format_html(
            "<ul>{}</ul>",
            _items((_outcome_label(key), count) for key, count in sorted(obj.counts.items())),
        )

    @admin.display(description=gettext_lazy("erreurs"))
    def errors_display(self, obj: MatchingRun) -> str:
        if not obj.errors:
            return "—"
        return format_html("<ul>{}</ul>", _items((error, "") for error in obj.errors))

    @admin.display(description=gettext_lazy("élèves en erreur"))
    def failures_display(self, obj: MatchingRun) -> str:
        """Each failing destination, left undecided for the next run (docs/transfers.md §5)."""
        if not obj.failures:
            return "—"
        return format_html(
            "<p>{}</p><table data-failures><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            _(
                "Ces paires n'ont pas été décidées : rien n'a été copié pour elles, et la prochaine "
                "exécution les retentera."
            ),
            _("Élève (nouvel établissement)"),
            _("Élève(s) (ancien établissement)"),
            _("Erreur"),
            format_html_join("", _FAILURE_ROW, _failure_rows(obj.failures)),
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("lancer/", view(require_POST(self.run_view)), name="transfers_matchingrun_run"),
            path("national/", view(self.national_view), name="transfers_matchingrun_national"),
            *super().get_urls(),
        ]

    def national_view(self, request: HttpRequest) -> HttpResponse:
        """The national picture for support (docs/operations.md): the last nights' runs, as charts."""
        _require_perm(request, "view_matchingrun")
        picture = national.national_picture(now=timezone.now())
        context = _context(self, request, _("Vue nationale des transferts"), picture=picture)
        return TemplateResponse(request, "admin/transfers/national.html", context)

    def run_view(self, request: HttpRequest) -> HttpResponse:
        _require_perm(request, "add_matchingrun")
        try:
            run = run_matching(now=timezone.now(), trigger=Trigger.ADMIN)
        except Exception:  # recorded on the run by run_matching; the page says so instead of a 500
            messages.error(
                request, _("Le rapprochement a échoué : l'erreur est enregistrée dans l'exécution.")
            )
            return redirect("admin:transfers_matchingrun_changelist")
        self.log_addition(request, run, _("Rapprochement lancé depuis l'administration."))
        level = messages.SUCCESS if run.status == MatchingRun.Status.SUCCEEDED else messages.WARNING
        counts = {
            "status": run.get_status_display().lower(),
            "pairs": run.pairs_decided,
            "done": run.transfers_done,
            "entries": run.entries_copied,
        }
        message = (
            _("Rapprochement %(status)s : ") % counts
            + ngettext("%(pairs)d paire décidée", "%(pairs)d paires décidées", run.pairs_decided) % counts
            + ", "
            + ngettext("%(done)d transfert effectué", "%(done)d transferts effectués", run.transfers_done)
            % counts
            + ", "
            + ngettext("%(entries)d entrée copiée.", "%(entries)d entrées copiées.", run.entries_copied)
            % counts
        )
        if run.failures:
            message += " " + ngettext(
                "%(count)d élève en erreur, laissé en attente pour la prochaine exécution.",
                "%(count)d élèves en erreur, laissés en attente pour la prochaine exécution.",
                len(run.failures),
            ) % {"count": len(run.failures)}
        messages.add_message(request, level, message)
        return redirect("admin:transfers_matchingrun_change", run.pk)


def _outcome_label(key: str) -> str:
    if key == Outcome.TRANSFER:
        return _("transfert effectué")
    return str(Cause(key).label) if key in Cause.values else key


_FAILURE_ROW = "<tr><td>{}</td><td>{}</td><td>{} — {}</td></tr>"


def _student_link(student_id: int | None) -> str:
    """An opaque id linking to the record: names stay behind a click (docs/transfers.md §5)."""
    if student_id is None:
        return "—"
    url = reverse("admin:students_student_change", args=[student_id])
    return format_html('<a href="{}">{}</a>', url, _("élève n° %(id)s") % {"id": student_id})


def _failure_rows(failures: list[dict]):
    for failure in failures:
        origins = failure.get("origin_student_ids") or []
        yield (
            _student_link(failure.get("destination_student_id")),
            format_html_join(", ", "{}", ((_student_link(pk),) for pk in origins)) if origins else "—",
            failure.get("error", ""),
            failure.get("message", ""),
        )


def _items(rows) -> str:
    return format_html_join(
        "", "<li>{}{}</li>", ((label, f" : {value}" if value != "" else "") for label, value in rows)
    )


# --- errors reported by origin schools --------------------------------------------------------


@admin.register(TransferReport)
class TransferReportAdmin(ReadOnlyAdmin):
    """ "Signaler une erreur" from a school's sent list: staff check the transfer and mark it handled."""

    list_display = ("created_at", "establishment", "transfer", "user", "handled_at", "undo_link")
    readonly_fields = ("undo_link",)
    list_filter = (("handled_at", admin.EmptyFieldListFilter),)
    list_select_related = (
        "establishment",
        "user",
        "transfer__origin_establishment",
        "transfer__destination_establishment",
    )
    actions = ["mark_handled"]

    @admin.action(description=gettext_lazy("Marquer comme traités"), permissions=["handle"])
    def mark_handled(self, request: HttpRequest, queryset) -> None:
        count = queryset.filter(handled_at__isnull=True).update(
            handled_at=timezone.now(), handled_by=request.user
        )
        self.message_user(
            request,
            ngettext(
                "%(count)d signalement marqué comme traité.",
                "%(count)d signalements marqués comme traités.",
                count,
            )
            % {"count": count},
        )

    @admin.display(description=gettext_lazy("transfert signalé"))
    def undo_link(self, obj: TransferReport) -> str:
        """Straight to the reported transfer's undo page (docs/transfers.md "Undoing a transfer")."""
        transfer = obj.transfer
        if transfer.undone_at is not None:
            return _("annulé le %(day)s") % {
                "day": timezone.localtime(transfer.undone_at).strftime("%d/%m/%Y")
            }
        if not transfer.done:
            return "—"
        return format_html(
            '<a class="button" href="{}">{}</a>',
            reverse("admin:transfers_transfer_undo", args=[transfer.pk]),
            _("Annuler le transfert"),
        )

    def has_handle_permission(self, request: HttpRequest) -> bool:
        # The rows stay read-only (ReadOnlyAdmin); handling one is the only change staff make.
        return request.user.has_perm("transfers.change_transferreport")


from . import admin_waiting  # noqa: E402,F401 - registers the reminders and "Passeports en attente"

"""Pages of the project itself, outside every app: logging out says so."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse


class LogoutView(auth_views.LogoutView):
    """Django's logout, followed by a message on the login page, so that the user knows it worked."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        was_logged_in = request.user.is_authenticated
        response = super().post(request, *args, **kwargs)
        if was_logged_in:
            messages.info(request, "Déconnexion effectuée : à bientôt sur cerisepro.")
        return response

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import TemplateView

from sso.views import LogoutView as SsoLogoutView

# admin.site is cerisepro.admin.StaffAdminSite (cerisepro.apps.StaffAdminConfig): staff only, with
# a verified second factor.
urlpatterns = [
    path("admin/", admin.site.urls),
    path("connexion/", auth_views.LoginView.as_view(), name="login"),
    # The project's logout, through the ENT's /logout for a session the ENT opened (sso.views).
    path("deconnexion/", SsoLogoutView.as_view(), name="logout"),
    path(
        "mot-de-passe/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "mot-de-passe/modifie/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    # The accessibility statement (RGAA), public like the law requires: linked from every footer.
    path(
        "accessibilite/",
        TemplateView.as_view(template_name="accessibility.html"),
        name="accessibility",
    ),
    path("", include("accounts.urls")),
    path("", include("establishments.urls")),
    path("", include("transfers.urls")),
    path("", include("students.urls")),
    path("", include("students.passport.urls")),
    path("", include("transfers.manual.urls")),
    path("", include("sso.urls")),
]

from django.urls import path

from . import views

urlpatterns = [
    path("etablissements/<str:uai>/transferts/", views.transfer_history, name="transfer-history"),
    path(
        "etablissements/<str:uai>/transferts/export.csv",
        views.transfer_history_csv,
        name="transfer-history-csv",
    ),
]

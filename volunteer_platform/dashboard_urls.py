from django.urls import path

from . import dashboard_views as views

app_name = "dashboard"

urlpatterns = [
    path("", views.dashboard, name="index"),
    path("export/<slug:kind>.xlsx", views.export, name="export"),
    path("plans/", views.plans, name="plans"),
    path("reports/", views.reports, name="reports"),
    path("reports/<int:pk>/<slug:fmt>/", views.report_download, name="report_download"),
    path("plans/<int:pk>/", views.plan_detail, name="plan"),
    path("tasks/<int:pk>/", views.task_detail, name="task"),
]

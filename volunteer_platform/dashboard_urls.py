from django.urls import path

from . import dashboard_views as views

app_name = "dashboard"

urlpatterns = [
    path("", views.dashboard, name="index"),
    path("export/<slug:kind>.xlsx", views.export, name="export"),
    path("plans/", views.plans, name="plans"),
    path("plans/<int:pk>/", views.plan_detail, name="plan"),
    path("tasks/<int:pk>/", views.task_detail, name="task"),
]

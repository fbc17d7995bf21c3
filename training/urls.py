from django.urls import path

from . import views

app_name = "training"
urlpatterns = [
    path("", views.index, name="index"),
    path("sessions/<int:session_id>/", views.session_detail, name="session_detail"),
    path("sessions/<int:session_id>/enroll/", views.enroll, name="enroll"),
    path("sessions/<int:session_id>/cancel/", views.cancel_enrollment, name="cancel_enrollment"),
    path("sessions/<int:session_id>/attendance/", views.attendance, name="attendance"),
    path("materials/<int:material_id>/", views.material_download, name="material_download"),
    path("records/<int:record_id>/evidence/", views.evidence_download, name="evidence_download"),
    path("records/new/", views.external_record_new, name="external_record_new"),
    path("manage/", views.manage, name="manage"),
    path("completion/", views.completion, name="completion"),
    path("completion/export.xlsx", views.completion_export, name="completion_export"),
]

from django.urls import path

from . import views

app_name = "members"
urlpatterns = [
    path("me/", views.me, name="me"),
    path("me/profile/", views.me_profile, name="me_profile"),
    path("me/residence/", views.me_residence, name="me_residence"),
    path("me/records/", views.me_records, name="me_records"),
    path("me/records/<int:pk>/correction/", views.me_record_correction, name="me_record_correction"),
    path("me/certificate.pdf", views.me_certificate, name="me_certificate"),
    path("me/data/", views.me_data, name="me_data"),
    path("me/data.json", views.me_data_download, name="me_data_download"),
    path("accounts/invite/<str:uidb64>/<str:token>/", views.invite_accept, name="invite_accept"),
    path("members/residence/", views.residence_queue, name="residence_queue"),
    path("members/residence/<int:pk>/confirm/", views.residence_confirm, name="residence_confirm"),
    path("members/<str:volunteer_number>/certificate.pdf", views.member_certificate, name="member_certificate"),
]

from django.urls import path

from . import views

# The member portal's pages of this app. The site composes them with its own pages that combine several apps (/me/,
# the certificate, the data download: volunteer_platform/portal_views.py) under one namespace, "members"
# (volunteer_platform/urls.py).
app_name = "members"
urlpatterns = [
    path("me/profile/", views.me_profile, name="me_profile"),
    path("me/residence/", views.me_residence, name="me_residence"),
    path("me/records/", views.me_records, name="me_records"),
    path("me/records/<int:pk>/correction/", views.me_record_correction, name="me_record_correction"),
    path("me/data/", views.me_data, name="me_data"),
    path("accounts/invite/<str:uidb64>/<str:token>/", views.invite_accept, name="invite_accept"),
    path("members/residence/", views.residence_queue, name="residence_queue"),
    path("members/residence/<int:pk>/confirm/", views.residence_confirm, name="residence_confirm"),
]

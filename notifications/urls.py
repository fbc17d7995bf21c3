from django.urls import path

from . import views

app_name = "notifications"
urlpatterns = [
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/<int:notification_id>/read/", views.inbox_mark_read, name="inbox_mark_read"),
    path("inbox/read-all/", views.inbox_mark_read, name="inbox_mark_all_read"),
    path("notifications/preferences/", views.preferences, name="preferences"),
]

from django.urls import path

from . import views

app_name = "news"

urlpatterns = [
    path("news/", views.news_list, name="list"),
    path("news/<int:pk>/", views.news_detail, name="detail"),
    path("news/<int:pk>/photo.jpg", views.news_photo, name="photo"),
    path("dashboard/messages/new/", views.broadcast_new, name="broadcast_new"),
]

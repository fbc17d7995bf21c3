from django.urls import path

from . import views

app_name = "demands"
urlpatterns = [
    path("privacy/", views.privacy, name="privacy"),
    path("wishes/", views.wall, name="wall"),
    path("wishes/new/", views.wish_new, name="new"),
    path("wishes/new/done/", views.wish_submitted, name="submitted"),
    path("wishes/track/", views.track, name="track"),
    path("wishes/track/status/", views.track_status, name="track_status"),
    path("wishes/track/withdraw/", views.track_withdraw, name="track_withdraw"),
    path("wishes/track/photos/<int:photo_id>/", views.track_photo, name="track_photo"),
    path("wishes/feedback/<str:token>/", views.feedback, name="feedback"),
    path("wishes/mine/", views.my_wishes, name="mine"),
    path("wishes/review/", views.review, name="review"),
    path("wishes/review/<int:pk>/", views.review_detail, name="review_detail"),
    path("wishes/review/<int:pk>/save/", views.review_save, name="review_save"),
    path("wishes/review/<int:pk>/reject/", views.review_reject, name="review_reject"),
    path("wishes/review/<int:pk>/invite/", views.review_invite, name="review_invite"),
    path("wishes/review/<int:pk>/confirm/", views.review_confirm, name="review_confirm"),
    path("wishes/review/<int:pk>/block/", views.review_block, name="review_block"),
    path("wishes/<int:pk>/", views.wish_detail, name="detail"),
    path("wishes/<int:pk>/claim/", views.wish_claim, name="claim"),
    path("wishes/<int:pk>/decline/", views.wish_decline, name="decline"),
    path("wishes/<int:pk>/release/", views.wish_release, name="release"),
    path("wishes/<int:pk>/fulfil/", views.wish_fulfil, name="fulfil"),
    path("wishes/<int:pk>/photos/<int:photo_id>/", views.wish_photo, name="photo"),
    path("offers/", views.offers, name="offers"),
    path("offers/mine/", views.my_offers, name="my_offers"),
    path("offers/<int:pk>/edit/", views.offer_edit, name="offer_edit"),
    path("pairings/", views.my_pairings, name="my_pairings"),
    path("pairings/<int:pk>/visit/", views.visit_new, name="visit_new"),
]

from django.urls import path

from . import views

app_name = "incentives"
urlpatterns = [
    path("me/points/", views.points, name="points"),
    path("me/points/ratings/<int:rating_id>/objection/", views.objection, name="objection"),
    path("ratings/<int:run_id>/", views.publicity, name="publicity"),
    path(
        "me/points/commendations/<int:commendation_id>/consent/",
        views.commendation_consent,
        name="commendation_consent",
    ),
    path("me/points/leaderboard/", views.leaderboard, name="leaderboard"),
    path("me/points/leaderboard/opt-out/", views.leaderboard_opt_out, name="leaderboard_opt_out"),
    path("rewards/", views.rewards, name="rewards"),
    path("rewards/<int:item_id>/redeem/", views.redeem, name="redeem"),
    path("rewards/redemptions/<int:redemption_id>/cancel/", views.redemption_cancel, name="redemption_cancel"),
    path("exemplars/", views.exemplars, name="exemplars"),
]

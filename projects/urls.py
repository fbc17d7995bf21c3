from django.urls import path

from . import views

app_name = "projects"
urlpatterns = [
    path("projects/", views.project_list, name="project_list"),
    path("projects/<slug:slug>/", views.project_detail, name="project_detail"),
    path("projects/<slug:slug>/qr.svg", views.project_qr, name="project_qr"),
    path("projects/<slug:slug>/logo.png", views.project_logo, name="project_logo"),
    path("activities/<int:pk>/", views.activity_detail, name="activity_detail"),
    path("activities/<int:pk>/signup/", views.activity_signup, name="activity_signup"),
    path("activities/<int:pk>/cancel/", views.activity_cancel_signup, name="activity_cancel_signup"),
    path("activities/<int:pk>/checkin/", views.activity_checkin, name="activity_checkin"),
    path("activities/<int:pk>/checkout/", views.activity_checkout, name="activity_checkout"),
    path("activities/<int:pk>/checkin-qr.svg", views.activity_checkin_qr, name="activity_checkin_qr"),
    path("activities/<int:pk>/checkin-screen/", views.activity_checkin_screen, name="activity_checkin_screen"),
    path("activities/<int:pk>/new-code/", views.activity_new_code, name="activity_new_code"),
    path("activities/<int:pk>/checkin-place/", views.activity_checkin_place, name="activity_checkin_place"),
    path("activities/<int:pk>/attendance/", views.attendance, name="attendance"),
    path("activities/<int:pk>/survey/", views.activity_survey, name="activity_survey"),
    path("posts/<int:pk>/claim/", views.post_claim, name="post_claim"),
    path("posts/<int:pk>/skip/", views.post_skip, name="post_skip"),
    path("posts/<int:pk>/leave/", views.post_leave, name="post_leave"),
    path("me/activities/", views.my_activities, name="my_activities"),
    path("me/activities/report/", views.self_report, name="self_report"),
    path("me/calendar.ics", views.my_calendar, name="my_calendar"),
    path("me/calendar/<str:token>.ics", views.calendar_feed, name="calendar_feed"),
]

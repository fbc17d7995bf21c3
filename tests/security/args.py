"""What each route is called with: a real object of branch A (or the resident's wish). A lambda returns the
arguments, or (arguments, query) when the query names the object (the dashboard's ?org=)."""

from urllib.parse import urlencode

from django.urls import reverse

ARGS = {
    "sms_receipt": lambda w: ["aliyun", "not-the-secret"],
    "notifications:inbox_mark_read": lambda w: [w.notification.pk],
    "training:session_detail": lambda w: [w.session.pk],
    "training:enroll": lambda w: [w.session.pk],
    "training:cancel_enrollment": lambda w: [w.session.pk],
    "training:attendance": lambda w: [w.session.pk],
    "training:material_download": lambda w: [w.material.pk],
    "training:evidence_download": lambda w: [w.record.pk],
    "dashboard:index": lambda w: ([], {"org": w.branch_a.pk}),
    "dashboard:export": lambda w: (["figures"], {"org": w.branch_a.pk}),
    "dashboard:plans": lambda w: ([], {"org": w.branch_a.pk}),
    "dashboard:plan": lambda w: [w.plan.pk],
    "dashboard:task": lambda w: [w.task.pk],
    "members:invite_accept": lambda w: w.invitation.strip("/").split("/")[-2:],
    "members:residence_confirm": lambda w: [w.registration.pk],
    "members:member_certificate": lambda w: [w.member_a.volunteer_number],
    "incentives:objection": lambda w: [w.rating.pk],
    "incentives:publicity": lambda w: [w.rating.run_id],
    "members:me_record_correction": lambda w: [w.service_record.pk],
    "incentives:commendation_consent": lambda w: [w.commendation.pk],
    "incentives:redeem": lambda w: [w.item.pk],
    "incentives:redemption_cancel": lambda w: [w.redemption.pk],
    "demands:track_photo": lambda w: [w.photo.pk],
    "demands:feedback": lambda w: [w.feedback_token],
    "demands:review_detail": lambda w: [w.submitted.pk],
    "demands:review_save": lambda w: [w.submitted.pk],
    "demands:review_reject": lambda w: [w.submitted.pk],
    "demands:review_invite": lambda w: [w.published.pk],
    "demands:review_confirm": lambda w: [w.fulfilled.pk],
    "demands:review_block": lambda w: [w.submitted.pk],
    "demands:detail": lambda w: [w.published.pk],
    "demands:claim": lambda w: [w.published.pk],
    "demands:decline": lambda w: [w.published.pk],
    "demands:release": lambda w: [w.claimed.pk],
    "demands:fulfil": lambda w: [w.claimed.pk],
    "demands:photo": lambda w: [w.fulfilled.pk, w.photo.pk],
    "demands:offer_edit": lambda w: [w.offer.pk],
    "demands:visit_new": lambda w: [w.pairing.pk],
    "projects:project_detail": lambda w: [w.project.slug],
    "projects:project_qr": lambda w: [w.project.slug],
    "projects:project_logo": lambda w: [w.project.slug],
    "projects:activity_detail": lambda w: [w.activity.pk],
    "projects:activity_signup": lambda w: [w.activity.pk],
    "projects:activity_cancel_signup": lambda w: [w.activity.pk],
    "projects:activity_checkin": lambda w: [w.activity.pk],
    "projects:activity_checkin_qr": lambda w: [w.activity.pk],
    "projects:activity_checkin_screen": lambda w: [w.activity.pk],
    "projects:activity_checkout": lambda w: [w.activity.pk],
    "projects:activity_new_code": lambda w: [w.activity.pk],
    "projects:activity_checkin_place": lambda w: [w.activity.pk],
    "projects:attendance": lambda w: [w.activity.pk],
    "projects:activity_survey": lambda w: [w.activity.pk],
    "projects:post_claim": lambda w: [w.post.pk],
    "projects:post_skip": lambda w: [w.post.pk],
    "projects:post_leave": lambda w: [w.post.pk],
    "projects:calendar_feed": lambda w: [w.calendar.token],
    "news:detail": lambda w: [w.news.pk],
    "news:photo": lambda w: [w.news.pk],
}


def url_for(name: str, world) -> str:
    made = ARGS[name](world) if name in ARGS else []
    args, query = made if isinstance(made, tuple) else (made, {})
    url = reverse(name, args=args)
    return f"{url}?{urlencode(query)}" if query else url

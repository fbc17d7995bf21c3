"""The member portal's page cache follows this app's rows (connected in apps.ProjectsConfig.ready)."""

from core import member_cache

from .models import Activity, ActivitySurvey, SignUp

# The member portal's page cache (core/member_cache.py): /me/ shows the member's own survey answers, and their next
# activities — their sign-ups, and the time, place and state of each activity (a cancellation updates its sign-ups in
# bulk, then saves the activity: the activity's save drops the pages of everyone signed up).
member_cache.watch(
    ActivitySurvey,
    user=lambda survey: SignUp.objects.filter(pk=survey.signup_id).values_list("member__user_id", flat=True).first(),
)
member_cache.watch(SignUp, member="member")
member_cache.watch(
    Activity,
    user=lambda activity: list(
        SignUp.objects.filter(activity=activity).values_list("member__user_id", flat=True).distinct()
    ),
)

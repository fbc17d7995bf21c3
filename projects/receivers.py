"""The page caches follow this app's rows (connected in apps.ProjectsConfig.ready): the public project pages and
the member portal's."""

from core import member_cache, public_cache

from .models import Activity, ActivitySurvey, Post, PostClaim, PostSkip, ProjectCategory, ServiceProject, SignUp

# The public project pages (core/public_cache.py): the projects with their category, posts and figures, the
# activities with their seats, waitlists and satisfaction. Check-in fields and the check-in code are on no public
# page: saving only those leaves the pages cached (an activity's check-in is many saves in a few minutes).
for model in (ProjectCategory, ServiceProject, Post, PostClaim, PostSkip, ActivitySurvey):
    public_cache.watch(model, "projects")
public_cache.watch(Activity, "projects", ignore=frozenset({"checkin_code"}))
public_cache.watch(
    SignUp,
    "projects",
    ignore=frozenset({"checked_in_at", "checkin_position", "checkin_distance_m", "checked_out_at"}),
)

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

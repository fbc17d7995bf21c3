"""The page caches follow this app's rows (connected in apps.ProjectsConfig.ready): the public project pages and
the member portal's."""

from core import member_cache, public_cache

from .models import Activity, ActivitySurvey, Post, PostClaim, PostSkip, ProjectCategory, ServiceProject, SignUp

# The public project pages (core/public_cache.py). The projects with their category and posts, and the activities'
# times and places, are on every project page (the list, the brand pages, the activity pages): a change drops them
# all (group "projects"), and happens when an organizer edits. Sign-ups, claims and survey answers come all day from
# members: one drops only the pages that show it — its activity's page and its project's brand page (the seat
# figures on /projects/ follow within the list's minute, as the page says). Check-in fields and the check-in code
# are on no public page: saving only those leaves the pages cached (a check-in is many saves in a few minutes).
for model in (ProjectCategory, ServiceProject, Post):
    public_cache.watch(model, "projects")
public_cache.watch(Activity, "projects", ignore=frozenset({"checkin_code"}))


def _pages_of_activity(activity_id: int, activity: Activity | None = None) -> list[tuple[str, object]]:
    """The activity's page and its project's brand page; no query when the activity and its project are loaded."""
    slug: str | None
    if activity is not None and Activity.project.is_cached(activity):
        slug = activity.project.slug
    else:
        slug = Activity.objects.filter(pk=activity_id).values_list("project__slug", flat=True).first()
    return [("activity", activity_id), *([("project", slug)] if slug else [])]


def _pages_of_signup(signup: SignUp) -> list[tuple[str, object]]:
    return _pages_of_activity(signup.activity_id, signup.activity if SignUp.activity.is_cached(signup) else None)


def _pages_of_survey(survey: ActivitySurvey) -> list[tuple[str, object]]:
    activity_id = SignUp.objects.filter(pk=survey.signup_id).values_list("activity_id", flat=True).first()
    return _pages_of_activity(activity_id) if activity_id is not None else []


def _pages_of_claim(claim: PostClaim) -> list[tuple[str, object]]:
    """A post's claims show on its project's brand page only."""
    slug = Post.objects.filter(pk=claim.post_id).values_list("project__slug", flat=True).first()
    return [("project", slug)] if slug else []


def _pages_of_skip(skip: PostSkip) -> list[tuple[str, object]]:
    """A claimant's skipped dates show with the claims, on the brand page."""
    slug = PostClaim.objects.filter(pk=skip.claim_id).values_list("post__project__slug", flat=True).first()
    return [("project", slug)] if slug else []


public_cache.watch(
    SignUp,
    "projects",
    ignore=frozenset({"checked_in_at", "checkin_position", "checkin_distance_m", "checked_out_at"}),
    objects=_pages_of_signup,
)
public_cache.watch(ActivitySurvey, "projects", objects=_pages_of_survey)
public_cache.watch(PostClaim, "projects", objects=_pages_of_claim)
public_cache.watch(PostSkip, "projects", objects=_pages_of_skip)

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

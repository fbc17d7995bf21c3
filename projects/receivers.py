"""The member portal's page cache follows this app's rows (connected in apps.ProjectsConfig.ready)."""

from core import member_cache

from .models import ActivitySurvey, SignUp

# The member portal's page cache (core/member_cache.py): /me/ shows the member's own survey answers.
member_cache.watch(
    ActivitySurvey,
    user=lambda survey: SignUp.objects.filter(pk=survey.signup_id).values_list("member__user_id", flat=True).first(),
)

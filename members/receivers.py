"""The member portal's page cache follows this app's rows (connected in apps.MembersConfig.ready; see
core/member_cache.py). What /me/ and /me/records/ show from this app: the account's name (the navigation
bar), the member row with its skills and interests, the current 双报到, the service records; the names of
organizations, communities, grids and tags on every member's pages. The dashboard (kept per person from a snapshot)
also shows the organizations in the person's scope: whom an organization has as its admins or secretary."""

from django.contrib.auth import get_user_model

from core import member_cache

from .models import (
    Community,
    Grid,
    Member,
    Organization,
    ResidenceRegistration,
    ServiceRecord,
    ServiceRecordCorrection,
    Tag,
    WeChatBinding,
)

member_cache.accounts_of_members(lambda ids: Member.objects.filter(pk__in=ids).values_list("user_id", flat=True))
member_cache.watch(get_user_model(), user=lambda user: user.pk)
member_cache.watch(Member, user=lambda member: member.user_id)
member_cache.watch_member_m2m(Member.skills.through)
member_cache.watch_member_m2m(Member.interests.through)
member_cache.watch_user_m2m(Organization.admins.through)  # the dashboard's scope (volunteer_platform)
member_cache.watch(ResidenceRegistration, member="member")
member_cache.watch(WeChatBinding, user=lambda binding: binding.user_id)  # /me/ shows the bound WeChat
member_cache.watch(ServiceRecord, member="member")
member_cache.watch(  # /me/records/ shows a record's correction waiting and its last answer
    ServiceRecordCorrection,
    user=lambda correction: (
        ServiceRecord.objects.filter(pk=correction.record_id).values_list("member__user_id", flat=True).first()
    ),
)
for model in (Organization, Community, Grid, Tag):
    member_cache.watch(model, everyone=True)

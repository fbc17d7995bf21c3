"""`{% phase_badge activity now %}`: an activity's phase at `now` (`Activity.phase`) as a badge — the one way every
projects page shows what an activity is (the view passes the `now` its sign-up button was decided with)."""

from django import template

from projects.models import ActivityPhase

register = template.Library()

STYLES = {
    ActivityPhase.NOT_OPEN: "text-bg-secondary",
    ActivityPhase.OPEN: "text-bg-success",
    ActivityPhase.WAITLIST: "text-bg-warning",
    ActivityPhase.CLOSED: "text-bg-secondary",
    ActivityPhase.IN_PROGRESS: "text-bg-primary",
    ActivityPhase.ENDED: "text-bg-light border",
    ActivityPhase.CANCELLED: "text-bg-danger",
}


@register.inclusion_tag("projects/includes/phase_badge.html")
def phase_badge(activity, now):
    phase = activity.phase(now)
    return {"phase": phase, "style": STYLES[phase]}

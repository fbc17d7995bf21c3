"""The member portal's page cache follows the inbox (connected in apps.NotificationsConfig.ready; see
core/member_cache.py): /me/ shows the number of unread messages, so an in-app message's save (its delivery) or
deletion drops its recipient's pages. Marking read is a bulk update: `services.inbox_mark_read` drops them itself."""

from core import member_cache

from .models import Notification

member_cache.watch(
    Notification,
    user=lambda notification: notification.recipient_user_id,
    when=lambda notification: notification.channel == Notification.Channel.INAPP,
)

"""django-simple-history's HistoricalRecords, whose records name their time in the site's time zone.

The library's records print "<object> as of <history_date>" with the datetime as stored, in UTC; these say
"<object>（截至 <local time>）".
"""

from django.utils.translation import gettext as _
from simple_history import models as simple_history

from .times import SECOND, format_local


def _record_str(record) -> str:
    return _("%(object)s（截至 %(time)s）") % {
        "object": record.history_object,
        "time": format_local(record.history_date, SECOND),
    }


def _m2m_record_str(record) -> str:
    return _("%(object)s（截至 %(time)s）") % {
        "object": record._meta.verbose_name,
        "time": format_local(record.history.history_date, SECOND),
    }


class HistoricalRecords(simple_history.HistoricalRecords):
    def get_extra_fields(self, model, fields):
        return {**super().get_extra_fields(model, fields), "__str__": _record_str}

    def get_extra_fields_m2m(self, model, through_model, fields):
        return {**super().get_extra_fields_m2m(model, through_model, fields), "__str__": _m2m_record_str}

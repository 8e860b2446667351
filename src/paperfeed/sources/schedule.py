"""arXiv's announcement schedule: which listing day a submission appears on.

Submissions close at 14:00 US/Eastern, Monday to Friday, and are announced at 20:00 US/Eastern,
Sunday to Thursday. arXiv dates each announcement by the next day ("new submissions for Tuesday"
is announced on Monday evening), so listing days run Monday to Friday. A paper's listing day is
the date of the first listing that includes it. arXiv's holiday closures are not modelled:
around them a paper lands one listing day early.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

EASTERN = ZoneInfo("America/New_York")
CUTOFF = dt.time(14, 0)
FRIDAY = 4


def listing_day(submitted: dt.datetime) -> dt.date:
    """The date of arXiv's daily listing that first includes a submission made at `submitted`."""
    if submitted.tzinfo is None:
        submitted = submitted.replace(tzinfo=dt.UTC)
    local = submitted.astimezone(EASTERN)
    # The deadline that catches it: today's 14:00 on a weekday before the cutoff, else the
    # next weekday's.
    deadline = local.date()
    if local.weekday() > FRIDAY or local.time() >= CUTOFF:
        deadline += dt.timedelta(days=1)
        while deadline.weekday() > FRIDAY:
            deadline += dt.timedelta(days=1)
    # Monday to Thursday deadlines are announced that evening and dated the next day; Friday's
    # are announced on Sunday evening and dated Monday.
    return deadline + dt.timedelta(days=3 if deadline.weekday() == FRIDAY else 1)

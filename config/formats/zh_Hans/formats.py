"""Simplified Chinese dates: 2026年12月5日, 12月5日 星期六, 2026年12月5日 14:05."""

DATE_FORMAT = "Y年n月j日"
DATETIME_FORMAT = "Y年n月j日 H:i"
# A day in the current year: a schedule's due date, a submission's time.
MONTH_DAY_FORMAT = "n月j日 D"
SHORT_DATETIME_FORMAT = "n月j日 H:i:s"

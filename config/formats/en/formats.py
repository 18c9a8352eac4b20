"""English dates as the site always wrote them: 5 Dec 2026, Sat 5 Dec, 5 Dec 2026, 14:05."""

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
# A day in the current year: a schedule's due date, a submission's time.
MONTH_DAY_FORMAT = "D j M"
SHORT_DATETIME_FORMAT = "j M, H:i:s"

"""A :class:`Speaker`: one language and one time zone, for everything an office
person reads (the console, notifications, reports)."""

from __future__ import annotations

import gettext
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import dates as babel_dates
from babel import numbers as babel_numbers

from station_agent.i18n import DEFAULT_LANGUAGE, LANGUAGES

DOMAIN = "station-agent"
LOCALE_DIR = Path(__file__).parent / "locale"


@lru_cache(maxsize=8)
def _translations(lang: str) -> gettext.NullTranslations:
    if lang == "en":
        return gettext.NullTranslations()   # the source language
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang])


class Speaker:
    """Words, numbers, dates and times for one language and one time zone."""

    def __init__(self, lang: str = DEFAULT_LANGUAGE, timezone: str | None = None) -> None:
        if lang not in LANGUAGES:
            raise ValueError(f"language {lang!r}: expected one of {', '.join(LANGUAGES)}")
        self.lang = lang
        self.tz = ZoneInfo(timezone) if timezone else None
        self._t = _translations(lang)

    # -- words ---------------------------------------------------------------------

    def gettext(self, message: str) -> str:
        """``message`` (English) in this language."""
        return self._t.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The form of ``singular``/``plural`` for ``n``, in this language."""
        return self._t.ngettext(singular, plural, n)

    # -- numbers -------------------------------------------------------------------

    def number(self, value: float | int | None, digits: int | None = None) -> str:
        """``12.000`` in Indonesian, ``12,000`` in English; ``-`` for None."""
        if value is None:
            return "-"
        if digits is not None:
            pattern = "#,##0." + "0" * digits if digits else "#,##0"
            return babel_numbers.format_decimal(value, format=pattern, locale=self.lang)
        return babel_numbers.format_decimal(value, locale=self.lang)

    def signed(self, value: int) -> str:
        """A number with its sign (``+5``, ``-3``, ``0``)."""
        text = self.number(abs(value))
        return f"+{text}" if value > 0 else f"-{text}" if value < 0 else text

    # -- dates and times -------------------------------------------------------------

    def local(self, moment: datetime | str) -> datetime:
        """``moment`` (aware, or an ISO UTC text) in the office's time zone."""
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(self.tz) if self.tz else moment.astimezone()

    def date(self, day: date | datetime | str | None) -> str:
        """``27 November 2026`` (both languages use CLDR's long date)."""
        if day is None:
            return "-"
        if isinstance(day, str):
            day = date.fromisoformat(day) if len(day) == 10 else self.local(day)
        if isinstance(day, datetime):
            day = self.local(day).date()
        return babel_dates.format_date(day, format="long", locale=self.lang)

    def time(self, moment: datetime | str | None) -> str:
        """The local time of day: ``14.05`` in Indonesian, ``2:05 PM`` in English."""
        if moment is None:
            return "-"
        return babel_dates.format_time(self.local(moment), format="short", locale=self.lang)

    def datetime(self, moment: datetime | str | None) -> str:
        """Local date and time: ``27 November 2026 14.05``."""
        if moment is None:
            return "-"
        local = self.local(moment)
        return f"{self.date(local)} {self.time(local)}"

    def zone(self) -> str:
        """The time zone's short name at this moment (``WITA``), or its id."""
        if self.tz is None:
            return datetime.now().astimezone().tzname() or ""
        return datetime.now(self.tz).tzname() or str(self.tz)


@lru_cache(maxsize=8)
def speaker(lang: str = DEFAULT_LANGUAGE, timezone: str | None = None) -> Speaker:
    """A shared :class:`Speaker` (they hold no state)."""
    return Speaker(lang, timezone)

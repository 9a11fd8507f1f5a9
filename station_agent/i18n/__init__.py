"""Operator-facing language (DESIGN §9): words from gettext catalogues, numbers,
dates and times from Babel (the Unicode CLDR's locale data), in the office's
time zone.

Why these tools: gettext is the standard format translators and their tools
(Poedit, Weblate) work with, and Python reads its compiled catalogues with the
standard library; Babel extracts the messages from the Python code and the
Jinja2 templates (``babel.cfg``), compiles the catalogues, and formats numbers
and dates from CLDR data (``12.000``, ``27 November 2026``) instead of tables
of our own. English is the source language: its catalogue is the identity.

The catalogues live in ``station_agent/i18n/locale/<lang>/LC_MESSAGES/
station-agent.po``; the compiled ``.mo`` beside each is checked against its
``.po`` by the tests (``./scripts/dev i18n`` extracts and compiles them).

Code below the views marks its operator-facing English with :func:`N_`;
:class:`~station_agent.i18n.speakers.Speaker` translates it where it is shown.
Importing this package costs nothing (Babel loads with the speaker).
"""

from __future__ import annotations

from station_agent.lazy import exports

LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"


def N_(text: str) -> str:
    """Marks ``text`` for the catalogues; it is translated where it is shown."""
    return text


__getattr__, __dir__ = exports(__name__, {
    "Speaker": "station_agent.i18n.speakers:Speaker",
    "speaker": "station_agent.i18n.speakers:speaker",
})

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "N_", "Speaker", "speaker"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from station_agent.i18n.speakers import Speaker, speaker

"""Supplies (ribbons, films, cleaning kits) as the office sees them: each kind's
outlook now (:mod:`.outlook`) and over a period (:mod:`.period`), built on the
ledger's supply entries (:mod:`station_agent.ledger.supplies`)."""

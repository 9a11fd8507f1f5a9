"""Notifications (DESIGN §9, ``[notify]``): the right people told when
something needs doing, in the station's language.

:mod:`.messages` words each notification, :mod:`.channels` delivers one
(a command hook, a webhook, e-mail), :mod:`.notifier` decides what to tell
and drains the durable queue (:mod:`station_agent.ledger.notices`) with
retries, each channel in its own thread.
"""

"""A card's life from pick to outcome, from its two job sources.

* :mod:`.driven` - the agent drives a printer whose protocol it speaks: the
  card issuer's state machine (:class:`~.driven.Outcome`, the in-flight job,
  stuck cards), with the chip check (:mod:`.chipcheck`) as a declared hook;
* :mod:`.spooled` - the agent sits in the print spooler's path and settles
  the cards of jobs it does not drive, from the ``station`` backend's journal;
* :mod:`.settle` - an operator settles a card the agent could not follow.

Every pick and outcome is a transfer recorded in :mod:`station_agent.ledger`.
"""

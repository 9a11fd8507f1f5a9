"""Faults (DESIGN §4): the codes (:mod:`.codes`), hysteresis and flap detection
(:mod:`.hysteresis`), the board of active faults that applies them to every
condition and fault reported on the event bus (:mod:`.board`), and what a
producer holds to report one (:mod:`.reporter`). Their history is stored by
:mod:`station_agent.ledger.faultlog`."""

"""station-agent: the local agent of an ID-card printing station.

It keeps an exact, crash-safe count of blank cards (:mod:`station_agent.ledger`),
and (in later modules) watches printers, readers and the link to the central
server, forwarding everything through a store-and-forward uplink.
"""

__version__ = "0.1.0"

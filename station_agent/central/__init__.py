"""The central side of a fleet (DESIGN §11, docs/CENTRAL.md): what a ministry or a
province runs above the stations.

* :mod:`.intake` checks each message from the broker on its own;
* :mod:`.store` applies a batch to PostgreSQL in one transaction (exactly
  once by event id, chain links, gaps, balances); :mod:`.schema` its
  versioned migrations;
* :mod:`.loader` is ``station-agent central run``: the MQTT side, acknowledging
  each message after its batch commits;
* :mod:`.national` and :mod:`.render` are ``station-agent central report``;
  :mod:`.allocation` splits a delivery among offices by need.

Only the central machines need PostgreSQL's adapter (the ``central`` extra);
the station daemon never imports this package.
"""

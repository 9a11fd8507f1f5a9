"""The central side of a fleet (DESIGN §11): what a ministry or a province runs
above the stations. So far: splitting a delivery among offices by need
(:mod:`.allocation`) and the broker's access rules (``contrib/mosquitto/``)."""

"""The link to the central population-data server: one probe by phase (link, DNS,
TCP, TLS, HTTP: :mod:`.probe`) and the watch that repeats it and reports
faults and outages (:mod:`.watch`)."""

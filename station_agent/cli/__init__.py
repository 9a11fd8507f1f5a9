"""The ``station-agent`` command line: thin wrappers over the library."""

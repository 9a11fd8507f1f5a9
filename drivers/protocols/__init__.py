"""Wire constants of each protocol family, shared by drivers and simulators.

Only constants live here: a driver and the simulator of the same family are
independent implementations of the protocol, so a bug in one shows up as a
failure against the other.
"""

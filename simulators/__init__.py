"""Simulated devices that speak the real wire protocols: printers, contactless
cards for pcscd's vpcd driver, and the central server. See DESIGN §2."""

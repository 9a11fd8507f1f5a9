"""Smart-card reader adapters: PC/SC (pyscard) and an in-process fake."""

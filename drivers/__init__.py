"""Driver adapters: card printers (one module per protocol family), smart-card
readers (PC/SC) and byte transports (serial, USB, lp, TCP). See DESIGN §2."""

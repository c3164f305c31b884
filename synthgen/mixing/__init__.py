"""Mixing synthetic with real labeled datasets (``synthgen mix``)."""

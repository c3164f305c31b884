"""Sim-to-real validation: how far synthetic data is from a real test set (``synthgen validate``)."""

"""Fit a scene's randomization ranges to a real dataset (``synthgen fit``).

``space`` maps a scene config's ranges to a search vector, ``gap`` measures how far a
batch of renders is from the real set, ``moments`` makes the first, analytic step and
``search`` the cross-entropy rounds; ``report`` writes what was found.
"""

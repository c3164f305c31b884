"""Copy-paste synthesis: instances cut out of labeled photos (and renders) pasted onto
backgrounds with exact labels (``generator=paste``, ``synthgen.copy_paste.paste``).

``cutout_library`` lifts instances out with their masks, ``blending`` places, colour-matches
and blends them; ``paste`` is the generator.
"""

__all__: list[str] = []

"""Diffusion generators: realistic images from rendered layouts, labels kept exact or verified.

One generator per file (``conf/generator/``): ``inpaint_background`` (exact by
construction), ``controlnet`` and ``img2img`` (verified, quarantined under a threshold).
Needs the ``diffusion`` extra (torch, diffusers, transformers); imported lazily.
"""

__all__: list[str] = []

"""Tiny randomly initialised diffusion pipelines, built in code (no download).

They run the whole diffusion path (tokenizer, text encoder, UNet, VAE, ControlNet,
scheduler) in a fraction of a second on a CPU, so tests, demos and users without weights
can exercise every generator; the images are noise-like, not realistic. They are saved
with ``save_pretrained`` and loaded back through the same ``generator.model=DIR`` a user
passes for real weights.

Layout written by :func:`make_tiny_pipelines` (``scripts/make_tiny_pipelines.py DIR``)::

    DIR/sd/                   text-to-image components (img2img and ControlNet base)
    DIR/sd-inpaint/           inpainting UNet (9 input channels)
    DIR/controlnet-segmentation/, controlnet-depth/, controlnet-edges/   one ControlNet each
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["make_tiny_pipelines"]

_BLOCKS = (4, 8)
_CONDITIONS = ("segmentation", "depth", "edges")


def _tokenizer(folder: Path):
    from transformers import CLIPTokenizer

    # A byte-level vocabulary: every character is a token, so any prompt encodes.
    characters = [chr(c) for c in range(33, 127)] + ["Ġ"]
    vocab = {token: i for i, token in enumerate(characters + [c + "</w>" for c in characters])}
    vocab.update({"<|startoftext|>": len(vocab), "<|endoftext|>": len(vocab) + 1})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=77)


def _components(seed: int, in_channels: int):
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=_BLOCKS, layers_per_block=1, norm_num_groups=2, sample_size=16, in_channels=in_channels,
        out_channels=4, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=8, attention_head_dim=2,
    )
    vae = AutoencoderKL(block_out_channels=_BLOCKS, in_channels=3, out_channels=3, latent_channels=4,
                        norm_num_groups=2, down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        bos_token_id=0, eos_token_id=2, hidden_size=8, intermediate_size=16, layer_norm_eps=1e-5,
        num_attention_heads=2, num_hidden_layers=1, pad_token_id=1, vocab_size=400, max_position_embeddings=77))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1)
    return {"unet": unet, "vae": vae, "text_encoder": text_encoder, "scheduler": scheduler,
            "safety_checker": None, "feature_extractor": None, "requires_safety_checker": False}


def _controlnet(seed: int):
    import torch
    from diffusers import ControlNetModel

    torch.manual_seed(seed)
    return ControlNetModel(block_out_channels=_BLOCKS, layers_per_block=1, norm_num_groups=2, in_channels=4,
                           down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), cross_attention_dim=8,
                           attention_head_dim=2, conditioning_embedding_out_channels=(4, 8))


def make_tiny_pipelines(folder: str | Path) -> Path:
    """Write tiny random pipelines of every kind under ``folder`` (see the module docstring).

    Raises:
        synthgen.core.errors.ConfigError: The diffusion extra is not installed.
    """
    from synthgen.diffusion.models import import_diffusers

    diffusers = import_diffusers("make_tiny_pipelines")
    folder = Path(folder)
    tokenizer = _tokenizer(folder / ".tokenizer")
    diffusers.StableDiffusionPipeline(tokenizer=tokenizer, **_components(0, 4)).save_pretrained(folder / "sd")
    diffusers.StableDiffusionInpaintPipeline(tokenizer=tokenizer, **_components(1, 9)).save_pretrained(
        folder / "sd-inpaint")
    for seed, condition in enumerate(_CONDITIONS, start=2):
        _controlnet(seed).save_pretrained(folder / f"controlnet-{condition}")
    return folder

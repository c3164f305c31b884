"""Loading diffusion pipelines: local folders or hub ids, offline by default, device and dtype."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from synthgen.core.errors import ConfigError, InputError
from synthgen.torch_import import import_torch

__all__ = ["import_diffusers", "load_pipeline", "resolve_device"]

INSTALL = "pip install -e '.[diffusion]' (torch, diffusers, transformers)"
_DTYPES = ("float32", "float16", "bfloat16")
_MIN_VOCABULARY = 100  # a real CLIP tokenizer has ~49k tokens; a failed offline load has 2


def import_diffusers(purpose: str):
    """The ``diffusers`` module (torch imported first, safely beside the renderer).

    Raises:
        ConfigError: The diffusion extra is not installed; says how to install it.
    """
    import_torch(purpose, INSTALL)
    try:
        import diffusers
        import transformers
    except ImportError as error:
        raise ConfigError(f"{purpose} needs the diffusion extra: {INSTALL}") from error
    # Loading reports (progress bars, optional-speedup hints) would drown synthgen's own output.
    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return diffusers


def resolve_device(device: str, dtype: str, key: str = "generator") -> tuple[str, object]:
    """``(device, torch dtype)`` for ``device`` = auto | cpu | cuda[:N] and a dtype name.

    Raises:
        ConfigError: CUDA asked for but absent, or a half dtype on the CPU.
    """
    torch = import_torch(key, INSTALL)
    if dtype not in _DTYPES:
        raise ConfigError(f"{key}.dtype: must be one of {list(_DTYPES)}, got {dtype!r}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    elif device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"{key}.device={device}: CUDA is not available here; use device=auto or cpu")
    elif device != "cpu" and not device.startswith("cuda"):
        raise ConfigError(f"{key}.device: must be auto, cpu or cuda[:N], got {device!r}")
    if device == "cpu" and dtype == "float16":
        raise ConfigError(f"{key}.dtype=float16: half precision needs a CUDA device; use float32 on the CPU")
    return device, getattr(torch, dtype)


def _offline(download: bool) -> bool:
    return not download or os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")


def _load(loader, model: str, key: str, download: bool, **options):
    """``loader.from_pretrained(model)`` with a clear error when the model cannot be found."""
    local = Path(model).expanduser()
    source = str(local) if local.exists() else model
    offline = _offline(download)
    try:
        return loader.from_pretrained(source, local_files_only=offline, **options)
    except (OSError, ValueError, EnvironmentError) as error:
        where = (f"{local} is not a diffusers model folder" if local.exists()
                 else f"no local folder {model!r}, and " + ("downloads are off" if offline else "the download failed"))
        raise InputError(
            f"{key}={model}: cannot load ({where}: {str(error).splitlines()[0][:200]}). Point it at a local "
            "diffusers folder (model_index.json inside; scripts/make_tiny_pipelines.py DIR writes tiny ones), "
            "or on a machine with internet set generator.download=true (and unset HF_HUB_OFFLINE)"
        ) from error


def load_pipeline(kind: str, model: str, *, controlnets: Mapping[str, str] | None = None, device: str = "auto",
                  dtype: str = "float32", download: bool = False):
    """A diffusers pipeline of ``kind`` (inpaint | img2img | controlnet), on its device, quiet.

    The pipeline class follows the model's family (``AutoPipelineFor*``): Stable Diffusion
    1.x/2.x, SDXL and others diffusers maps.

    Args:
        kind: Which pipeline class.
        model: Local folder or hub id of the base (or inpainting) model.
        controlnets: Condition name -> ControlNet folder or hub id (``controlnet`` only),
            in the order the conditions are passed.
        device: auto | cpu | cuda[:N].
        dtype: float32 | float16 | bfloat16.
        download: Allow hub downloads (otherwise only local files and the local cache).

    Raises:
        ConfigError: The extra is missing, or a device/dtype problem.
        InputError: A model cannot be loaded, or its tokenizer is not a real one.
    """
    diffusers = import_diffusers(f"generator ({kind})")
    device, torch_dtype = resolve_device(device, dtype)
    # The Auto pipelines pick the model family's class from model_index.json (SD 1.x/2.x, SDXL, ...).
    classes = {"inpaint": diffusers.AutoPipelineForInpainting,
               "img2img": diffusers.AutoPipelineForImage2Image,
               "controlnet": diffusers.AutoPipelineForText2Image}
    options = {"dtype": torch_dtype, "safety_checker": None, "requires_safety_checker": False}
    if kind == "controlnet":
        if not controlnets:
            raise ConfigError("generator.controlnets: name at least one condition's ControlNet, e.g. "
                              "{segmentation: DIR/controlnet-segmentation}")
        models = [_load(diffusers.ControlNetModel, path, f"generator.controlnets.{name}", download,
                        dtype=torch_dtype) for name, path in controlnets.items()]
        options["controlnet"] = models if len(models) > 1 else models[0]
    pipeline = _load(classes[kind], model, "generator.model", download, **options)
    tokenizer = getattr(pipeline, "tokenizer", None)
    if tokenizer is not None and len(tokenizer) < _MIN_VOCABULARY:
        raise InputError(f"generator.model={model}: its tokenizer has {len(tokenizer)} tokens (a failed offline "
                         "load gives an empty one); point generator.model at a complete diffusers folder")
    # Inpainting works with inpainting UNets (9 channels: latents, mask, masked image) and, by
    # blending, with plain ones (4); the others need plain ones.
    channels, allowed = pipeline.unet.config.in_channels, (9, 4) if kind == "inpaint" else (4,)
    if channels not in allowed:
        raise InputError(f"generator.model={model}: its UNet takes {channels} input channels, {kind} needs "
                         f"{' or '.join(map(str, allowed))}: point it at a text-to-image model (not an inpainting one)")
    pipeline.set_progress_bar_config(disable=True)
    return pipeline.to(device)

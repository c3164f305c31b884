"""Safe instantiation of config nodes.

A node is ``{_target_: dotted.path, arg: value, ...}``: the target's constructor is
its schema. Hydra's own ``instantiate`` would call any importable callable
(``os.system`` included), so synthgen builds nodes itself and refuses, before anything
is imported, targets outside ``synthgen.`` and the user's configured prefixes. Unknown
arguments and invalid values are reported with the node's config path.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Mapping, Sequence

from omegaconf import DictConfig, ListConfig, OmegaConf

from synthgen.core.errors import ConfigError, SynthgenError

__all__ = ["build_settings", "BUILTIN_PREFIXES", "call_with_path", "instantiate", "resolve_target"]

BUILTIN_PREFIXES = ("synthgen.",)
_RESERVED = {"_target_", "_partial_"}


def _to_plain(node):
    if isinstance(node, (DictConfig, ListConfig)):
        return OmegaConf.to_container(node, resolve=True)
    return node


def _check_prefix(target: str, path: str, allowed_prefixes: Sequence[str]) -> None:
    prefixes = tuple(BUILTIN_PREFIXES) + tuple(allowed_prefixes)
    if not any(target.startswith(prefix) for prefix in prefixes):
        raise ConfigError(
            f"{path}._target_: '{target}' is not allowed; targets must start with one of "
            f"{list(prefixes)}. To allow your own components, add their module prefix to "
            f"allowed_target_prefixes (e.g. allowed_target_prefixes=[mypkg.])"
        )


def resolve_target(target, path: str, allowed_prefixes: Sequence[str] = ()):
    """Import the callable named by ``target`` after checking the allow-list.

    Args:
        target: Dotted path ``package.module.Name``.
        path: Config path of the node, for messages.
        allowed_prefixes: Extra module prefixes allowed beside ``synthgen.``.

    Raises:
        ConfigError: The target is not allowed, cannot be imported, or is not callable.
    """
    if not isinstance(target, str) or "." not in target:
        raise ConfigError(f"{path}._target_: must be a dotted path like 'synthgen.x.Y', got {target!r}")
    _check_prefix(target, path, allowed_prefixes)
    module_name, _, attribute = target.rpartition(".")
    try:
        module = importlib.import_module(module_name)
        resolved = getattr(module, attribute)
    except (ImportError, AttributeError) as error:
        raise ConfigError(f"{path}._target_: cannot import '{target}' ({error})") from error
    if not callable(resolved):
        raise ConfigError(f"{path}._target_: '{target}' is not callable")
    return resolved


def _check_arguments(target, arguments: Mapping, path: str, partial: bool) -> None:
    signature = inspect.signature(target)
    parameters = signature.parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    allowed = [name for name, p in parameters.items() if p.kind is not inspect.Parameter.VAR_POSITIONAL]
    for key in arguments:
        if key not in parameters:
            raise ConfigError(f"{path}.{key}: unknown key; allowed keys: {allowed}")
    if partial:
        return
    missing = [
        name for name, p in parameters.items()
        if p.default is inspect.Parameter.empty
        and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        and name not in arguments
    ]
    if missing:
        raise ConfigError(f"{path}: missing required key(s) {missing}")


def _build(node, path: str, allowed_prefixes: Sequence[str]):
    if isinstance(node, Mapping):
        if "_target_" not in node:
            return {key: _build(value, f"{path}.{key}", allowed_prefixes) for key, value in node.items()}
        target = resolve_target(node["_target_"], path, allowed_prefixes)
        partial = bool(node.get("_partial_", False))
        arguments = {key: value for key, value in node.items() if key not in _RESERVED}
        _check_arguments(target, arguments, path, partial)
        built = {key: _build(value, f"{path}.{key}", allowed_prefixes) for key, value in arguments.items()}
        if partial:
            return functools.partial(call_with_path, target, path, **built)
        return call_with_path(target, path, **built)
    if isinstance(node, list):
        return [_build(item, f"{path}[{i}]", allowed_prefixes) for i, item in enumerate(node)]
    return node


def call_with_path(target, path: str, /, *args, **kwargs):
    """Call ``target``; user errors it raises are re-raised naming the config path.

    ``ConfigError`` messages start with the argument name (``path.arg: ...``); other
    ``SynthgenError`` messages (an unreadable file) get ``path: `` in front.
    """
    try:
        return target(*args, **kwargs)
    except ConfigError as error:
        raise ConfigError(f"{path}.{error}") from None
    except SynthgenError as error:
        raise type(error)(f"{path}: {error}") from None


def _check_tree(node, path: str, allowed_prefixes: Sequence[str]) -> None:
    # Refuse foreign targets anywhere in the tree before importing or calling anything.
    if isinstance(node, Mapping):
        if "_target_" in node:
            target = node["_target_"]
            if not isinstance(target, str):
                raise ConfigError(f"{path}._target_: must be a string, got {target!r}")
            _check_prefix(target, path, allowed_prefixes)
        for key, value in node.items():
            _check_tree(value, f"{path}.{key}", allowed_prefixes)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _check_tree(item, f"{path}[{i}]", allowed_prefixes)


def instantiate(node, path: str, allowed_prefixes: Sequence[str] = ()):
    """Build the object a config node describes, recursively.

    Args:
        node: A DictConfig/dict with ``_target_`` (nested nodes allowed anywhere), a
            list of such nodes, or a plain value. ``_partial_: true`` returns a
            ``functools.partial`` for arguments supplied later.
        path: The node's config path (``scene``, ``render``...), used in every message.
        allowed_prefixes: Module prefixes allowed beside ``synthgen.``.

    Returns:
        The constructed object (or plain container when the node has no target).

    Raises:
        ConfigError: A target is outside the allow-list, a key is unknown or missing,
            or a constructor rejected a value; the message names the full key.
    """
    plain = _to_plain(node)
    _check_tree(plain, path, allowed_prefixes)
    return _build(plain, path, allowed_prefixes)


def build_settings(settings_class, cfg, config_name: str, renames: Mapping[str, str] | None = None):
    """A command's settings object from its composed config: the top-level keys are the
    constructor's arguments, checked like any node's (unknown and missing keys named).

    Args:
        settings_class: The command's settings class; its constructor is the schema of
            ``conf/<config_name>.yaml`` and validates the values.
        cfg: The composed config (DictConfig or mapping).
        config_name: The config file, for the message about a missing key.
        renames: Config key -> constructor argument, for keys that are not Python names
            (``in`` -> ``inputs``).

    Raises:
        ConfigError: An unknown or missing key (``key: unknown key; allowed keys: [...]``),
            or a value the constructor rejects (its message names the key).
    """
    renames = dict(renames or {})
    config_names = {argument: key for key, argument in renames.items()}
    plain = _to_plain(cfg)
    if not isinstance(plain, Mapping):
        raise ConfigError(f"conf/{config_name}.yaml: must be a mapping of keys, got {type(plain).__name__}")
    parameters = inspect.signature(settings_class).parameters
    allowed = [config_names.get(name, name) for name in parameters]
    arguments = {}
    for key, value in plain.items():
        argument = renames.get(key, key)
        if argument not in parameters or key in config_names:
            raise ConfigError(f"{key}: unknown key; allowed keys: {allowed}")
        arguments[argument] = value
    missing = [config_names.get(name, name) for name, p in parameters.items()
               if p.default is inspect.Parameter.empty and name not in arguments]
    if missing:
        raise ConfigError(f"{missing[0]}: missing; compose the config from conf/{config_name}.yaml")
    return settings_class(**arguments)

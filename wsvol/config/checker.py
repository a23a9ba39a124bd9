"""Check a whole config before any work starts.

Every ``type:`` is looked up in the registry of its kind (unknown → the registered names, the
plugin providing each, and a "did you mean"); every key is checked against the constructor of
the component it configures (unknown / missing keys, wrong value types), and the top level
against the runner's and wsvol's sections. All problems are reported at once, each with the
file, line and dotted key at fault.
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
import logging
import math
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from wsvol.config.loader import ConfigError, provenance_of, where
from wsvol.config.types import Kind, Range
from wsvol.utils.messages import suggestion

#: Arguments the runner (not the config) passes when it builds a component of a kind.
INJECTED = {
    "data_sampler": {"dataset", "seed"},
    "optimizer": {"params"},
    "param_scheduler": {"optimizer"},
    "loop": {"runner", "dataloader", "evaluator"},
    "optim_wrapper": {"optimizer"},
    "visualizer": {"name"},
    "hook": set(),
    "head": {"backbone", "num_classes"},
    "cam_method": {"model", "target_layer"},
    "runner": {"cfg", "work_dir"},
}

#: Where a component config sits → its registry kind (for keys whose constructor says nothing).
PATH_KINDS = {
    "model": "model",
    "data_preprocessor": "model",
    "visualizer": "visualizer",
    "log_processor": "log_processor",
    "*_dataloader.dataset": "dataset",
    "*_dataloader.sampler": "data_sampler",
    "*_dataloader.batch_sampler": "data_sampler",
    "*_dataloader.dataset.pipeline.*": "transform",
    "predict.pipeline.*": "transform",
    "optim_wrapper": "optim_wrapper",
    "optim_wrapper.optimizer": "optimizer",
    "param_scheduler": "param_scheduler",
    "param_scheduler.*": "param_scheduler",
    "val_evaluator": "metric",
    "val_evaluator.*": "metric",
    "test_evaluator": "metric",
    "test_evaluator.*": "metric",
    "default_hooks.*": "hook",
    "custom_hooks.*": "hook",
    "visualizer.vis_backends.*": "vis_backend",
    "*_dataloader.collate_fn": "function",
}

#: Bounds of other libraries' arguments, by (registry kind or class name, argument); wsvol's own
#: components state theirs in their signatures (``bounded`` in :mod:`wsvol.config.types`).
LIMITS = {
    ("DataLoader", "batch_size"): Range(1),
    ("DataLoader", "num_workers"): Range(0),
    ("DataLoader", "prefetch_factor"): Range(1),
    ("loop", "max_epochs"): Range(1),
    ("loop", "max_iters"): Range(1),
    ("loop", "val_interval"): Range(1),
    ("optimizer", "lr"): Range(0),
    ("optimizer", "weight_decay"): Range(0),
    ("optimizer", "momentum"): Range(0),
    ("LoggerHook", "interval"): Range(1),
}

#: Classes whose ``**kwargs`` no config key can use (CheckpointHook forwards them to
#: ``runner.save_checkpoint``, whose every argument it already passes itself).
CLOSED_KWARGS = {"CheckpointHook"}

#: Types of other libraries' arguments that their signatures do not state (DataLoader's hints
#: cannot be resolved), by (class name, argument).
HINTS = {
    ("DataLoader", "batch_size"): int, ("DataLoader", "num_workers"): int, ("DataLoader", "prefetch_factor"): int,
    ("DataLoader", "shuffle"): bool, ("DataLoader", "drop_last"): bool, ("DataLoader", "pin_memory"): bool,
    ("DataLoader", "persistent_workers"): bool, ("DataLoader", "timeout"): float,
    ("CheckpointHook", "rule"): Literal["greater", "less"] | list[Literal["greater", "less"]] | None,
}

#: The keys of mmengine's ``optim_wrapper.paramwise_cfg`` (``DefaultOptimWrapperConstructor``).
PARAMWISE_KEYS = {"bias_lr_mult", "bias_decay_mult", "norm_decay_mult", "dwconv_decay_mult", "flat_decay_mult",
                  "dcn_offset_lr_mult", "custom_keys", "bypass_duplicate"}

#: Defaults mmengine applies when a config omits ``type``.
DEFAULT_TYPES = {
    "optim_wrapper": "OptimWrapper",
    "log_processor": "LogProcessor",
    "val_cfg": "ValLoop",
    "test_cfg": "TestLoop",
}


def _runner_keys() -> set[str]:
    from mmengine.runner import Runner

    extra = {"model_wrapper_cfg", "find_unused_parameters", "sync_bn", "runner_type"}  # read from cfg by mmengine
    return (set(inspect.signature(Runner.__init__).parameters) - {"self", "cfg"}) | extra


def validation_metrics(data: dict) -> list[str] | None:
    """The names (fnmatch patterns) of what ``val_evaluator`` gives; None when one of its metrics
    does not declare them (``metric_names``) or there is no validation."""
    from wsvol.registry import METRICS

    evaluator = data.get("val_evaluator")
    items = evaluator if isinstance(evaluator, list) else [evaluator] if isinstance(evaluator, dict) else []
    names: list[str] = []
    for item in items:
        cls = METRICS.get(item.get("type")) if isinstance(item, dict) and isinstance(item.get("type"), str) else None
        declared = getattr(cls, "metric_names", None)
        if declared is None:
            return None
        prefix = item.get("prefix")
        names += [f"{prefix}/{n}" if prefix else n for n in declared]
    return names or None


def sections() -> dict[str, type]:
    """wsvol's own top-level sections (name → dataclass describing their keys)."""
    from wsvol.config.sections import SECTIONS

    return SECTIONS


def check_config(cfg, _chain: tuple[Path, ...] = ()) -> None:
    """Raise one :class:`ConfigError` listing every problem in ``cfg`` and in the configs it names
    (``baseline.config``); return None if clean. Imports the config's ``custom_imports`` first."""
    from wsvol.config.custom_imports import import_custom_modules

    filename = getattr(cfg, "filename", None) or "<config>"
    checker = _Checker(provenance_of(cfg), filename)
    data = cfg.to_dict() if hasattr(cfg, "to_dict") else dict(cfg)
    try:
        import_custom_modules(data, provenance_of(cfg))
    except ConfigError as exc:
        checker.errors.append(str(exc))
    checker.check_top(data)
    checker.check_class_count(data)
    for key, path in referenced_configs(cfg).items():
        checker.check_referenced(key, path, (*_chain, Path(filename).resolve()))
    checker.check_placeholders(data, referenced_configs(cfg).get("baseline.config"))
    if checker.errors:
        n = len(checker.errors)
        head = f"{n} problem{'s' if n > 1 else ''} in config {checker.filename}:"
        raise ConfigError("\n".join([head, *(f"  {e}" for e in checker.errors)]))


def referenced_configs(cfg) -> dict[str, Path]:
    """The other configs a config names (``baseline.config``), by dotted key: absolute when loaded
    by :func:`~wsvol.config.load_config`, else relative to the config's own folder."""
    baseline = cfg.get("baseline")
    if not isinstance(baseline, Mapping) or not isinstance(baseline.get("config"), str):
        return {}
    folder = Path(getattr(cfg, "filename", None) or ".").parent
    return {"baseline.config": folder / Path(baseline["config"]).expanduser()}


class _Checker:
    def __init__(self, prov: dict[str, str], filename: str) -> None:
        self.prov = prov
        self.filename = filename
        self.errors: list[str] = []

    def error(self, key: str, message: str) -> None:
        loc = where(self.prov, key) if self.prov else self.filename
        self.errors.append(f"{loc}: {key}: {message}")

    def check_referenced(self, key: str, path: Path, chain: tuple[Path, ...]) -> None:
        """Check a config this one names, as if it were run (its own problems listed under ``key``)."""
        from wsvol.config.loader import load_config

        if not path.is_file():
            self.error(key, f"no such config file: {path} (a config path is relative to the file that names it)")
            return
        if path.resolve() in chain:
            cycle = " -> ".join(str(p) for p in (*chain, path.resolve()))
            self.error(key, f"configs name each other in a cycle: {cycle}")
            return
        try:
            check_config(load_config(path), chain)
        except ConfigError as exc:
            self.error(key, "the config it names has problems:\n    " + str(exc).replace("\n", "\n    "))

    def check_placeholders(self, data: dict, baseline: Path | None) -> None:
        """Every ``{baseline_…}`` placeholder names what the baseline stage will write."""
        from wsvol.config.loader import load_config
        from wsvol.config.placeholders import placeholder_problems

        base = None
        if baseline is not None:
            try:
                base = load_config(baseline).to_dict()
            except (ConfigError, OSError):
                return  # check_referenced reports it
        for key, problem in placeholder_problems(data, base):
            self.error(key, problem)
        if base is not None:
            self.check_baseline_layout(data, base, baseline)

    def check_baseline_layout(self, data: dict, base: dict, baseline: Path) -> None:
        """A network that loads the baseline's checkpoint (``pretrained: "{baseline_…}"``: the model
        or its backbone) is built with the baseline network's ``dilated``: dilation changes no
        weight's shape, so the load cannot tell, and it would compute other features than the
        classifier it comes from."""
        from wsvol.registry import BACKBONES, MODELS

        model, theirs = data.get("model"), base.get("model")
        if not (isinstance(model, dict) and isinstance(theirs, dict)):
            return
        MODELS.import_from_location()
        BACKBONES.import_from_location()
        model_cls = MODELS.get(str(model.get("type")))
        wanted, said_theirs = _setting(theirs, "dilated", {}, MODELS.get(str(theirs.get("type"))))
        defaults = getattr(model_cls, "default_backbone", None) or {}
        backbone = model.get("backbone")
        loaders = [("model", model, model_cls, {})]
        if isinstance(backbone, dict):
            loaders.append(("model.backbone", backbone, BACKBONES.get(str(backbone.get("type", defaults.get("type")))),
                            defaults))
        for key, config, cls, owner_defaults in loaders:
            if "{baseline_" not in str(config.get("pretrained")):
                continue
            ours, said_ours = _setting(config, "dilated", owner_defaults, cls)
            if ours is not None and wanted is not None and ours != wanted:
                self.error(f"{key}.dilated", (
                    f"{said_ours}, but the baseline's network ({baseline}) has model.dilated {said_theirs}, and "
                    f"{key} loads its checkpoint ({config['pretrained']}): dilation changes no weight's shape, "
                    f"so the load would not notice, and the network would compute other features than the "
                    f"classifier it comes from; set {key}.dilated: {str(wanted).lower()}"))

    # -- top level -------------------------------------------------------------------------
    def check_top(self, data: dict) -> None:
        self.check_numbers(data, "")
        own = sections()
        accepted = _runner_keys() | set(own) | {"custom_imports"}
        for key in data:
            if key not in accepted:
                self.unknown_key(key, key, accepted, "top-level keys")
        if "model" not in data:
            self.error("model", "missing required key (the model to train or evaluate)")
        for key, value in data.items():
            if key in own and value in (None, {}):
                continue  # a section dropped by a child config (`key: null` or `key: {_delete_: true}`)
            if key in own:
                self.check_signature(own[key], value, key, f"section {key!r}")
                if isinstance(value, dict) and hasattr(own[key], "problems"):
                    for sub, problem in own[key].problems(value):
                        self.error(f"{key}.{sub}", problem)
            elif key.endswith("_dataloader") and value is not None:
                self.check_dataloader(value, key)
            elif key == "randomness" and value is not None:
                from mmengine.runner import set_random_seed

                self.check_signature(set_random_seed, value, key, "randomness (mmengine's set_random_seed)")
            elif key == "log_level" and not (isinstance(value, int) and not isinstance(value, bool)
                                             or value in logging.getLevelNamesMapping()):
                self.error(key, f"expected a logging level ({', '.join(logging.getLevelNamesMapping())}) or "
                                f"a number, got {value!r}")
            elif key == "train_cfg" and value is not None:
                loop = value.get("type") or ("EpochBasedTrainLoop" if value.get("by_epoch", True) else "IterBasedTrainLoop")
                self.check_component({**value, "type": loop}, key, "loop", ignore={"by_epoch"})
            elif key in ("val_cfg", "test_cfg") and value is not None:
                self.check_component({"type": DEFAULT_TYPES[key], **value}, key, "loop")
            elif key in ("default_hooks",) and isinstance(value, dict):
                for name, hook in value.items():
                    if hook is not None:
                        self.check_component(hook, f"{key}.{name}", "hook")
                        if isinstance(hook, dict) and hook.get("type") == "CheckpointHook":
                            self.check_save_best(hook, f"{key}.{name}", data)
            elif key in ("custom_hooks", "param_scheduler", "val_evaluator", "test_evaluator") and value is not None:
                kind = {"custom_hooks": "hook", "param_scheduler": "param_scheduler"}.get(key, "metric")
                for i, item in enumerate(value if isinstance(value, list) else [value]):
                    self.check_component(item, f"{key}.{i}" if isinstance(value, list) else key, kind)
            elif key in ("model", "optim_wrapper", "visualizer", "log_processor", "data_preprocessor") and value is not None:
                if isinstance(value, dict) and "type" not in value and key in DEFAULT_TYPES:
                    value = {"type": DEFAULT_TYPES[key], **value}
                ignore: set[str] = set()
                if key == "optim_wrapper" and isinstance(value, dict):
                    ignore = {"constructor", "paramwise_cfg"}  # mmengine's constructor takes them, not the wrapper
                    if "paramwise_cfg" in value:
                        self.check_paramwise(value["paramwise_cfg"], f"{key}.paramwise_cfg")
                self.check_component(value, key, PATH_KINDS[key], ignore)

    def check_class_count(self, data: dict) -> None:
        """``model.num_classes`` (set, or its default) is the number of classes of the class map each
        dataloader's dataset reads; a class map not there yet (data a run generates or that is
        still to be downloaded) is not checked."""
        from wsvol.registry import MODELS

        model = data.get("model")
        if not isinstance(model, dict) or not isinstance(model.get("type"), str):
            return
        MODELS.import_from_location()
        cls = MODELS.get(model["type"])
        found = constructor_params(cls) if inspect.isclass(cls) else None
        if found is None or "num_classes" not in found.params:
            return
        if "num_classes" in model:
            value, said = model["num_classes"], f"{model['num_classes']}"
        else:
            value = found.params["num_classes"].default
            said = f"{value} (the default of model {model['type']!r}: the config does not set it)"
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            return  # a missing, mistyped or out-of-bounds value is reported on its own
        seen: set[str] = set()
        for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
            dataset = data.get(loader).get("dataset") if isinstance(data.get(loader), dict) else None
            found_map = dataset_class_map(dataset, f"{loader}.dataset") if isinstance(dataset, dict) else None
            if found_map is None or found_map[1] in seen:
                continue
            classes, source = found_map
            seen.add(source)
            if len(classes) != value:
                names = ", ".join(sorted(classes, key=classes.__getitem__))
                why = (f"training stops at the first frame of class id {value} or more" if value < len(classes)
                       else "predict and export refuse a checkpoint whose class count differs from its class names")
                self.error("model.num_classes", (
                    f"{said} does not match the {len(classes)} classes of {source}, which {loader}.dataset reads "
                    f"({names}): {why}; set model.num_classes to {len(classes)}, or use a class map of "
                    f"{value} classes"))

    def check_save_best(self, hook: dict, key: str, data: dict) -> None:
        """``save_best`` names metrics the validation gives (mmengine finds out only after an epoch)."""
        best = hook.get("save_best")
        names = [best] if isinstance(best, str) else best if isinstance(best, list) else []
        given = validation_metrics(data)
        if given is None:
            return  # a metric that does not say what it gives
        for i, name in enumerate(names):
            if name == "auto" or not isinstance(name, str):
                continue
            if not any(fnmatch.fnmatchcase(name, pattern) for pattern in given):
                where = f"{key}.save_best" + (f".{i}" if isinstance(best, list) else "")
                close = difflib.get_close_matches(name, [g for g in given if "*" not in g], n=1, cutoff=0.6)
                self.error(where, suggestion(f"validation gives no metric {name!r}", close,
                                             f"it gives: {', '.join(given)}"))

    def check_paramwise(self, value: Any, key: str) -> None:
        """mmengine's ``paramwise_cfg``: its known keys, and ``custom_keys`` → {lr_mult, decay_mult}."""
        if not isinstance(value, dict):
            self.error(key, f"must be a mapping, got {type(value).__name__}")
            return
        for name, item in value.items():
            if name not in PARAMWISE_KEYS:
                self.unknown_key(f"{key}.{name}", name, PARAMWISE_KEYS, "keys of paramwise_cfg")
            elif name == "custom_keys":
                if not isinstance(item, dict):
                    self.error(f"{key}.custom_keys", f"must map parameter name parts to multipliers, got {item!r}")
                    continue
                for part, mults in item.items():
                    where = f"{key}.custom_keys.{part}"
                    if not isinstance(mults, dict):
                        self.error(where, f"must be a mapping of lr_mult / decay_mult, got {mults!r}")
                        continue
                    for mult, number in mults.items():
                        if mult not in ("lr_mult", "decay_mult"):
                            self.unknown_key(f"{where}.{mult}", mult, {"lr_mult", "decay_mult"},
                                             "keys of a custom_keys entry")
                        elif isinstance(number, bool) or not isinstance(number, (int, float)) or number < 0:
                            self.error(f"{where}.{mult}", f"must be a number >= 0, got {number!r}")

    def check_numbers(self, value: Any, key: str) -> None:
        """Numbers no component can use: NaN, infinities, integers beyond 64 bits."""
        if isinstance(value, dict):
            for k, v in value.items():
                self.check_numbers(v, f"{key}.{k}" if key else str(k))
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                self.check_numbers(v, f"{key}.{i}")
        elif isinstance(value, float) and not math.isfinite(value):
            self.error(key, f"{value} is not a usable number (configs take finite numbers only)")
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > sys.maxsize:
            self.error(key, f"{value} does not fit in 64 bits (at most {sys.maxsize})")

    def check_dataloader(self, value: Any, key: str) -> None:
        import torch.utils.data

        if not isinstance(value, dict):
            self.error(key, f"must be a mapping, got {type(value).__name__}")
            return
        accepted = set(inspect.signature(torch.utils.data.DataLoader.__init__).parameters) - {"self"}
        hints = _hints(torch.utils.data.DataLoader)
        for k, v in value.items():
            if k not in accepted:
                self.unknown_key(f"{key}.{k}", k, accepted, "DataLoader keys")
            elif k == "dataset":
                self.check_component(v, f"{key}.dataset", "dataset")
            elif k in ("sampler", "batch_sampler") and v is not None:
                self.check_component(v, f"{key}.{k}", "data_sampler")
            elif k == "collate_fn" and v is not None:
                self.check_component(v, f"{key}.{k}", "function")
            else:
                hint = HINTS.get(("DataLoader", k), hints.get(k, inspect.Parameter.empty))
                problem = _type_problem(v, _limited(hint, "DataLoader", "", k))
                if problem:
                    self.error(f"{key}.{k}", problem)
        if "dataset" not in value:
            self.error(f"{key}.dataset", "missing required key")

    # -- components ------------------------------------------------------------------------
    def check_component(self, value: Any, key: str, kind: str, ignore: set[str] = frozenset()) -> None:
        from wsvol.registry import registry_for_kind, unknown_name_message

        if not isinstance(value, dict):
            self.error(key, f"must be a mapping with a 'type' ({kind} config), got {type(value).__name__} {value!r}")
            return
        if "type" not in value:
            self.error(f"{key}.type", f"missing: which {kind} to build")
            return
        name = value["type"]
        if not isinstance(name, str):
            return  # a class object (Python API) needs no lookup
        registry = registry_for_kind(kind)
        registry.import_from_location()
        cls = registry.get(name)
        if cls is None:
            self.error(f"{key}.type", unknown_name_message(registry, name))
            return
        if not inspect.isclass(cls):
            return  # functions (collate_fn ...) are called by the runner with their inputs
        args = {k: v for k, v in value.items() if k != "type" and k not in ignore}
        self.check_signature(cls, args, key, f"{kind} {name!r}", injected=INJECTED.get(kind, set()), kind=kind)

    def check_signature(self, target: Any, args: Any, key: str, what: str, injected: set[str] = frozenset(),
                        kind: str = "") -> None:
        if not isinstance(args, Mapping):
            self.error(key, f"{what} must be a mapping, got {type(args).__name__}")
            return
        found = constructor_params(target)
        if found is None:
            return
        params, hints, open_kwargs, required = found
        open_kwargs = open_kwargs and getattr(target, "__name__", "") not in CLOSED_KWARGS
        for name in params:
            if name in required and name not in args and name not in injected:
                self.error(f"{key}.{name}", f"missing required key for {what}; its keys: {', '.join(params)}")
        for name, value in args.items():
            sub = f"{key}.{name}"
            if name not in params:
                if not open_kwargs:
                    self.unknown_key(sub, name, set(params) - injected, f"keys of {what}", self.inherited(sub, key))
                continue
            owner = getattr(target, "__name__", "")
            hint = _limited(HINTS.get((owner, name), hints.get(name, params[name].annotation)), owner, kind, name)
            self.check_value(value, hint, sub, name, key)

    def check_value(self, value: Any, hint: Any, key: str, name: str, parent: str) -> None:
        kind = _kind_of(hint) or _path_kind(key)
        if kind and isinstance(value, dict) and "type" in value:
            self.check_component(value, key, kind)
            return
        if kind and isinstance(value, dict) and typing.get_origin(_strip_optional(hint)) in (dict, Mapping):
            for k, item in value.items():  # a mapping of name → component (entries without type update defaults)
                if isinstance(item, dict) and "type" in item:
                    self.check_component(item, f"{key}.{k}", kind)
            return
        item_kind = kind or _path_kind(f"{key}.0")
        if item_kind and isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for i, item in enumerate(value):
                self.check_component(item, f"{key}.{i}", item_kind)
            return
        problem = _type_problem(value, hint)
        if problem:
            self.error(key, problem)

    def unknown_key(self, key: str, name: str, accepted: set[str], what: str, note: str = "") -> None:
        close = difflib.get_close_matches(name, sorted(accepted), n=1, cutoff=0.6)
        self.error(key, suggestion(f"unknown key {name!r}", close, f"accepted {what}: {', '.join(sorted(accepted))}")
                   + note)

    def inherited(self, key: str, component: str) -> str:
        """A note when ``key`` comes from another file than the component's ``type``: a child
        config changed the type of an inherited component, which merges into the base's keys."""
        type_at, key_at = self.prov.get(f"{component}.type", ""), self.prov.get(key, "")
        type_file, key_file = type_at.rsplit(":", 1)[0], key_at.rsplit(":", 1)[0]
        if not type_at or not key_at or type_file == key_file:
            return ""
        if key_file == "--cfg-options" or Path(key_file).resolve() == Path(self.filename).resolve():
            return ""  # the config being checked set the key itself: a plain mistake, not an inherited one
        return (f". It is inherited from {key_at}, while the type is set at {type_at}: a child config that "
                f"changes the type of an inherited component keeps the base's other keys; add `_delete_: true` "
                f"beside the new type to replace the mapping instead of merging into it")


def _setting(config: Mapping, name: str, defaults: Mapping, cls: Any) -> tuple[Any, str]:
    """(value, how it was set) of argument ``name`` of a component config: the config's, else the
    owner's ``defaults``, else the constructor's default; (None, "") when ``cls`` takes no such argument."""
    found = constructor_params(cls) if inspect.isclass(cls) else None
    if found is None or name not in found.params:
        return None, ""
    if name in config:
        return config[name], f"{config[name]}".lower()
    value = defaults.get(name, found.params[name].default)
    return value, f"{value}".lower() + " (the default: the config does not set it)"


def dataset_class_map(dataset: Mapping, key: str) -> tuple[dict[str, int], str] | None:
    """(name → index, where it was read) of the class map a fold dataset config reads: its
    ``class_map`` (a mapping, or a file) or ``<folds_root>/class_id.yaml``; None when the file
    is not there yet or is not a mapping of names to indices (reading the data reports how)."""
    import yaml

    class_map = dataset.get("class_map")
    if isinstance(class_map, Mapping):
        found, source = class_map, f"{key}.class_map"
    else:
        if isinstance(class_map, str):
            path = Path(class_map).expanduser()
        elif class_map is None and isinstance(dataset.get("folds_root"), str):
            path = Path(dataset["folds_root"]).expanduser() / "class_id.yaml"
        else:
            return None
        try:
            found, source = yaml.safe_load(path.read_text(encoding="utf-8")), str(path)
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            return None
    if not isinstance(found, Mapping) or not found or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in found.items()):
        return None
    return dict(found), source


def _takes_no_keys(klass: type) -> bool:
    """``object`` and torch's modules: their constructors take no config keys."""
    return klass is object or klass.__module__.startswith("torch.nn")


class Params(typing.NamedTuple):
    """What a constructor (or function) accepts, read from its signature."""

    params: dict[str, inspect.Parameter]  #: named arguments, the most derived class's first
    hints: dict[str, Any]  #: their type hints
    open: bool  #: a ``**kwargs`` stays open at the end of the chain: any further key is accepted
    required: set[str]  #: arguments without a default in the first constructor


def constructor_params(target: Any) -> Params | None:
    """The arguments of a class's constructor or of a function; None if it has no readable signature.

    A ``**kwargs`` that a class forwards to its base (``super().__init__(..., **kwargs)``) is
    followed up the MRO: the base's named arguments are accepted too, and the chain is closed
    by the first constructor without ``**kwargs``. Only the first constructor's arguments can be
    required: a class may fill its bases' arguments itself (``super().__init__(optimizer, "lr", ...)``).
    """
    if not inspect.isclass(target):
        owners = [target]
    else:
        owners = [k.__init__ for k in inspect.getmro(target) if not _takes_no_keys(k) and "__init__" in vars(k)]
    found = Params({}, {}, False, set())
    for depth, fn in enumerate(owners):
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            return found._replace(open=True) if found.params else None
        fn_hints = _hints(fn)
        for name, p in sig.parameters.items():
            if name == "self" or p.kind is p.VAR_POSITIONAL or p.kind is p.VAR_KEYWORD or name in found.params:
                continue
            found.params[name] = p
            found.hints[name] = fn_hints.get(name, p.annotation)
            if depth == 0 and p.default is p.empty:
                found.required.add(name)
        found = found._replace(open=any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()))
        if not found.open:
            break
    return found


def _limited(hint: Any, owner: str, kind: str, name: str) -> Any:
    """``hint`` with the bound :data:`LIMITS` gives the argument ``name`` of ``owner`` (or of its kind)."""
    limit = LIMITS.get((owner, name)) or LIMITS.get((kind, name))
    return Annotated[hint, limit] if limit and hint is not inspect.Parameter.empty else (
        Annotated[Any, limit] if limit else hint)


def _hints(target: Any) -> dict[str, Any]:
    """Resolved type hints of a function (or of a class's ``__init__``); {} if they cannot be resolved."""
    fn = target.__init__ if inspect.isclass(target) else target
    try:
        return typing.get_type_hints(fn, include_extras=True)
    except Exception:
        return {}


def _strip_optional(hint: Any) -> Any:
    if typing.get_origin(hint) in (Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0] if len(args) == 1 else hint
    return hint


def _kind_of(hint: Any) -> str | None:
    if typing.get_origin(hint) is Annotated:
        for meta in hint.__metadata__:
            if isinstance(meta, Kind):
                return meta.name
    for arg in typing.get_args(hint):
        kind = _kind_of(arg)
        if kind:
            return kind
    return None


def _path_kind(key: str) -> str | None:
    parts = key.split(".")
    for pattern, kind in PATH_KINDS.items():
        pat = pattern.split(".")
        if len(pat) == len(parts) and all(p == "*" or p == k or (p.startswith("*") and k.endswith(p[1:])) for p, k in zip(pat, parts)):
            return kind
    return None


_NAMES = {int: "an integer", float: "a number", bool: "true/false", str: "a string", dict: "a mapping",
          list: "a list", tuple: "a list", Path: "a path (string)"}


def _type_problem(value: Any, hint: Any) -> str | None:
    """None if ``value`` fits ``hint`` (or the hint cannot be checked), else a message."""
    if hint is inspect.Parameter.empty or hint is Any or isinstance(hint, (str, typing.TypeVar)):
        return None
    ok = _fits(value, hint)
    if ok is None or ok:
        return None
    problem = f"expected {_describe(hint)}, got {type(value).__name__} {value!r}"
    word = {True: "true", False: "false", None: "null"}.get(value) if isinstance(value, (bool, type(None))) else None
    if word is not None and _fits(word, hint):  # YAML read an unquoted true/false/null as a value, not a word
        problem += f' (YAML reads an unquoted {word} as {value!r}: write "{word}" for the word)'
    return problem


def _fits(value: Any, hint: Any) -> bool | None:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is Annotated:
        checks = [m for m in hint.__metadata__ if hasattr(m, "holds")]
        if args[0] is Any and any(isinstance(m, Range) for m in checks) and (
                isinstance(value, bool) or not isinstance(value, (int, float))):
            return False  # a bound on an argument whose type is unknown: it must be a number
        fits = _fits(value, args[0])
        if fits is not False and not all(m.holds(value) for m in checks):
            return False
        return fits
    if origin in (Union, types.UnionType):
        results = [_fits(value, a) for a in args]
        return True if any(r is None or r for r in results) else False
    if origin is Literal:
        return value in args
    if hint is type(None) or hint is None:
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint in (bool, str, dict):
        return isinstance(value, hint)
    if hint is Path:
        return isinstance(value, (str, Path))
    if origin in (list, tuple, Sequence) or hint in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(args) == len(value) and all(_fits(v, a) is not False for v, a in zip(value, args))
        inner = args[0] if args else None
        return inner is None or all(_fits(v, inner) is not False for v in value)
    if origin in (dict, Mapping) or hint is Mapping:
        return isinstance(value, dict)
    if getattr(hint, "__name__", "") == "Tensor" and getattr(hint, "__module__", "").startswith("torch"):
        return False  # YAML gives no tensor (``lr: float | Tensor`` takes the float)
    return None  # classes, callables, modules...: not checkable from YAML


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is Annotated:
        ranges = [str(m) for m in hint.__metadata__ if hasattr(m, "holds")]
        base = "a number" if args[0] is Any else _describe(args[0])
        return " ".join([base, *ranges])
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if hint is type(None):
        return "null"
    if origin in (list, tuple, Sequence):
        return f"a list, each {_describe(args[0])}" if args else "a list"
    return _NAMES.get(hint, getattr(hint, "__name__", str(hint)))

"""Every registry of wsvol, in one place.

Runner parts are children of mmengine's root registries (scope ``wsvol``), so an mmengine
``Runner`` with ``default_scope='wsvol'`` finds our components and still falls back to
mmengine's own. Our own kinds (backbones, heads, ...) are registries of their own. Each one
knows where its built-ins live (``locations``) and, on first use, lets every plugin register
through the ``wsvol_register`` hook, so building by name never needs a manual import.
"""

from __future__ import annotations

import contextvars
import difflib
import inspect

from mmengine.registry import DATA_SAMPLERS as MM_DATA_SAMPLERS
from mmengine.registry import DATASETS as MM_DATASETS
from mmengine.registry import EVALUATOR as MM_EVALUATOR
from mmengine.registry import FUNCTIONS as MM_FUNCTIONS
from mmengine.registry import HOOKS as MM_HOOKS
from mmengine.registry import LOG_PROCESSORS as MM_LOG_PROCESSORS
from mmengine.registry import LOOPS as MM_LOOPS
from mmengine.registry import METRICS as MM_METRICS
from mmengine.registry import MODEL_WRAPPERS as MM_MODEL_WRAPPERS
from mmengine.registry import MODELS as MM_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MM_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MM_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MM_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MM_PARAM_SCHEDULERS
from mmengine.registry import RUNNERS as MM_RUNNERS
from mmengine.registry import TRANSFORMS as MM_TRANSFORMS
from mmengine.registry import VISBACKENDS as MM_VISBACKENDS
from mmengine.registry import VISUALIZERS as MM_VISUALIZERS
from mmengine.registry import WEIGHT_INITIALIZERS as MM_WEIGHT_INITIALIZERS
from mmengine.registry import Registry
from mmengine.registry import registry as _mm_registry

from wsvol.utils.messages import capitalized, suggestion

SCOPE = "wsvol"
#: The scopes a ``type`` may name (``mmengine.SGD``, ``wsvol.trcamv``): the registry tree's own.
KNOWN_SCOPES = frozenset({"mmengine", SCOPE})


def _registered_names_only() -> None:
    """Make every registry, mmengine's own included, build registered names only.

    mmengine resolves a name no registry holds as a dotted import path (``Registry.get`` falls
    back to ``get_object_from_string``: ``type: subprocess.Popen`` builds a process) and treats
    the part before a dot as a package whose ``registry`` module it imports (from the working
    directory too, under ``python -m``). A ``type`` can come from a config, from the config a
    checkpoint stores or from an export's metadata, and none of them may run code: here a name
    is looked up in the registries and nowhere else, and only the registry tree's scopes count.
    """
    split = Registry.split_scope_key

    def split_known_scopes(key: str) -> tuple[str | None, str]:
        scope, name = split(key)
        return (scope, name) if scope is None or scope in KNOWN_SCOPES else (None, key)

    Registry.split_scope_key = staticmethod(split_known_scopes)
    _mm_registry.get_object_from_string = lambda name: None


_registered_names_only()

#: The plugin on whose behalf components are being registered (set by the plugin manager).
current_provider: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "wsvol_current_provider", default=None
)


class RegistryError(KeyError):
    """A name clash or an unknown name in a registry."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0]) if self.args else ""


class WsvolRegistry(Registry):
    """An mmengine registry that records which plugin provided each name."""

    def __init__(self, kind: str, *, parent: Registry | None = None, locations=()):
        super().__init__(kind, parent=parent, scope=SCOPE, locations=list(locations))
        self.kind = kind
        #: the modules holding wsvol's own components of this kind (the built-in plugin imports them)
        self.builtin_modules: tuple[str, ...] = tuple(locations)
        self._providers: dict[str, str] = {}

    def _register_module(self, module, module_name=None, force: bool = False) -> None:
        names = [module_name or module.__name__] if not isinstance(module_name, list) else module_name
        provider = current_provider.get() or _provider_of(module)
        if not inspect.isclass(module) and self.kind != "function":
            raise RegistryError(
                f"{self.kind} {names[0]!r} from plugin {provider!r} must be a class, got "
                f"{type(module).__name__} {getattr(module, '__qualname__', module)!r}"
            )
        for name in names:
            if name in self._module_dict and not force:
                raise RegistryError(
                    f"{self.kind} {name!r} is registered twice: by plugin "
                    f"{self._providers.get(name, '?')!r} ({self._module_dict[name].__module__}) and by "
                    f"plugin {provider!r} ({module.__module__})"
                )
        super()._register_module(module, names, force=force)
        for name in names:
            self._providers[name] = provider

    def import_from_location(self) -> None:
        if not self._imported:
            from wsvol.plugin_manager import register_all

            register_all()
        super().import_from_location()

    def build(self, cfg, *args, **kwargs):
        """Build from a config dict; an unknown ``type`` raises with the registered names."""
        name = cfg.get("type") if isinstance(cfg, dict) else None
        if isinstance(name, str):
            self.lookup(name)
        return super().build(cfg, *args, **kwargs)

    def unregister(self, name: str) -> None:
        """Remove ``name`` (used to roll back a plugin whose registration failed)."""
        self._module_dict.pop(name, None)
        self._providers.pop(name, None)

    def provider(self, name: str) -> str | None:
        """The plugin that registered ``name``."""
        return self._providers.get(name)

    def entries(self) -> dict[str, str]:
        """All names of this kind (after loading built-ins and plugins) → providing plugin."""
        self.import_from_location()
        return {name: self._providers.get(name, _provider_of(cls)) for name, cls in sorted(self._module_dict.items())}

    def lookup(self, name: str):
        """The class registered as ``name``; an unknown name raises with the choices and a hint."""
        self.import_from_location()
        cls = self.get(name)
        if cls is None:
            raise RegistryError(unknown_name_message(self, name))
        return cls


def _provider_of(module) -> str:
    top = (getattr(module, "__module__", None) or "?").split(".")[0]
    return top


def unknown_name_message(registry: WsvolRegistry, name: str) -> str:
    """'unknown <kind> type X; did you mean Y? Registered: a (plugin p), ...; from mmengine: B, ...',
    or, when a plugin accounts for X (not installed, disabled, failed), which one and why."""
    from wsvol.plugin_manager import absent_plugin_note, inactive_plugins_note

    entries = registry.entries()
    theirs = sorted(n for n in (registry.parent.module_dict if registry.parent is not None else ()) if n not in entries)
    ours = ", ".join(f"{n} ({p})" for n, p in entries.items())
    if ours and theirs:
        listing = f"registered: {ours}; from mmengine: {', '.join(theirs)}"
    elif theirs:
        listing = f"registered, all from mmengine: {', '.join(theirs)}"
    else:
        listing = f"registered: {ours or 'none'}"
    head = f"unknown {registry.kind} type {name!r}"
    absent = absent_plugin_note(registry.kind, str(name))
    if absent:  # a "did you mean" would point elsewhere
        return f"{head}: {absent}. {capitalized(listing)}"
    close = difflib.get_close_matches(str(name), [*entries, *theirs], n=1, cutoff=0.5)
    text = suggestion(head, close, listing)
    inactive = inactive_plugins_note()
    return f"{text}. {capitalized(inactive)}" if inactive else text


# Runner parts: children of mmengine's registries.
RUNNERS = WsvolRegistry("runner", parent=MM_RUNNERS, locations=["wsvol.engine"])
LOOPS = WsvolRegistry("loop", parent=MM_LOOPS, locations=["wsvol.engine"])
HOOKS = WsvolRegistry("hook", parent=MM_HOOKS, locations=["wsvol.engine"])
DATASETS = WsvolRegistry("dataset", parent=MM_DATASETS, locations=["wsvol.data"])
DATA_SAMPLERS = WsvolRegistry("data_sampler", parent=MM_DATA_SAMPLERS, locations=["wsvol.data"])
TRANSFORMS = WsvolRegistry("transform", parent=MM_TRANSFORMS, locations=["wsvol.data"])
MODELS = WsvolRegistry("model", parent=MM_MODELS, locations=["wsvol.models"])
MODEL_WRAPPERS = WsvolRegistry("model_wrapper", parent=MM_MODEL_WRAPPERS, locations=["wsvol.engine"])
WEIGHT_INITIALIZERS = WsvolRegistry("weight_initializer", parent=MM_WEIGHT_INITIALIZERS)
OPTIMIZERS = WsvolRegistry("optimizer", parent=MM_OPTIMIZERS, locations=["wsvol.engine"])
OPTIM_WRAPPERS = WsvolRegistry("optim_wrapper", parent=MM_OPTIM_WRAPPERS, locations=["wsvol.engine"])
PARAM_SCHEDULERS = WsvolRegistry("param_scheduler", parent=MM_PARAM_SCHEDULERS, locations=["wsvol.engine"])
METRICS = WsvolRegistry("metric", parent=MM_METRICS, locations=["wsvol.evaluation"])
EVALUATOR = WsvolRegistry("evaluator", parent=MM_EVALUATOR, locations=["wsvol.evaluation"])
VISUALIZERS = WsvolRegistry("visualizer", parent=MM_VISUALIZERS, locations=["wsvol.visualization"])
VISBACKENDS = WsvolRegistry("vis_backend", parent=MM_VISBACKENDS, locations=["wsvol.visualization"])
LOG_PROCESSORS = WsvolRegistry("log_processor", parent=MM_LOG_PROCESSORS, locations=["wsvol.engine"])
OPTIM_WRAPPER_CONSTRUCTORS = WsvolRegistry("optim_wrapper_constructor", parent=MM_OPTIM_WRAPPER_CONSTRUCTORS)
FUNCTIONS = WsvolRegistry("function", parent=MM_FUNCTIONS, locations=["wsvol.data"])

# Our own kinds.
BACKBONES = WsvolRegistry("backbone", locations=["wsvol.models.backbones"])
HEADS = WsvolRegistry("head", locations=["wsvol.models.heads"])
PSEUDO_LABEL_SOURCES = WsvolRegistry("pseudo_label_source", locations=["wsvol.pseudo_labels"])
PSEUDO_LABEL_TRANSFORMS = WsvolRegistry("pseudo_label_transform", locations=["wsvol.data"])
PIXEL_SAMPLERS = WsvolRegistry("pixel_sampler", locations=["wsvol.sampling"])
LOSSES = WsvolRegistry("loss", locations=["wsvol.losses"])
CAM_METHODS = WsvolRegistry("cam_method", locations=["wsvol.cams"])


class Registries:
    """What the ``wsvol_register`` hook receives: every registry, by kind."""

    runners = RUNNERS
    loops = LOOPS
    hooks = HOOKS
    datasets = DATASETS
    data_samplers = DATA_SAMPLERS
    transforms = TRANSFORMS
    models = MODELS
    model_wrappers = MODEL_WRAPPERS
    weight_initializers = WEIGHT_INITIALIZERS
    optimizers = OPTIMIZERS
    optim_wrappers = OPTIM_WRAPPERS
    param_schedulers = PARAM_SCHEDULERS
    metrics = METRICS
    evaluator = EVALUATOR
    visualizers = VISUALIZERS
    vis_backends = VISBACKENDS
    log_processors = LOG_PROCESSORS
    functions = FUNCTIONS
    optim_wrapper_constructors = OPTIM_WRAPPER_CONSTRUCTORS
    backbones = BACKBONES
    heads = HEADS
    pseudo_label_sources = PSEUDO_LABEL_SOURCES
    pseudo_label_transforms = PSEUDO_LABEL_TRANSFORMS
    pixel_samplers = PIXEL_SAMPLERS
    losses = LOSSES
    cam_methods = CAM_METHODS

    @classmethod
    def all(cls) -> dict[str, WsvolRegistry]:
        """Attribute name → registry."""
        return {k: v for k, v in vars(cls).items() if isinstance(v, WsvolRegistry)}


def registry_for_kind(kind: str) -> WsvolRegistry:
    """The registry whose ``kind`` (e.g. ``'loss'``) or attribute (``'losses'``) is given."""
    for attr, reg in Registries.all().items():
        if kind in (attr, reg.kind):
            return reg
    raise RegistryError(f"no registry of kind {kind!r}; kinds: {', '.join(r.kind for r in Registries.all().values())}")

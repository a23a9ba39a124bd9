"""TrCAM-V: a (frozen) ViT, a linear probe for the class and an attention decoder for the map.

Training (``mode='loss'``) follows the paper / reference code:

1. the backbone gives the last blocks' CLS tokens and the last block's attention (under
   ``torch.no_grad()`` when all its parameters are frozen: nothing upstream needs gradients);
2. the decoder turns the attention into 2-channel logits at input resolution;
3. the pixel sampler draws FG/BG seeds from each frame's cached pseudo-label map
   (``data_samples[i]['pseudo_map']``), redrawn at every step with a generator on the model's
   device seeded from (``seed``, sampler step); the step counter is a buffer, so a resumed run
   draws what the uninterrupted one would have. The maps are stacked and checked on the host,
   then copied to the device in one (pinned, non-blocking) transfer, and nothing in the step
   reads a device value back: the counter has a host copy (``sampler_step_value``);
4. every enabled loss term is returned on its own (``loss_<name>``: ``loss_pce``,
   ``loss_size``, ``loss_crf``), plus ``loss_cls`` (cross-entropy on the tag) when
   ``train_cls_head``; mmengine sums every key starting with ``loss``.

Each loss is called with the arguments its ``forward`` names among ``logits`` (decoder
logits, B×2×H×W), ``seeds`` (B×H×W seed map), ``images`` (B×3×H×W, 0–255 RGB, the inputs
de-normalized with ``mean``/``std``) and ``maps`` (B×H×W pseudo-label maps), so losses from
plugins plug in the same way.

Loss defaults are the reference TrCAM-V run: partial CE only. The paper's full loss sets
``losses: {size: {loss_weight: 0.01}, crf: {loss_weight: 1.2e-9}}``.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModel
from torch import Tensor, nn

from wsvol.config import component
from wsvol.config.types import bounded
from wsvol.registry import BACKBONES, HEADS, LOSSES, MODELS, PIXEL_SAMPLERS
from wsvol.sampling.otsu_roi import check_map_range
from wsvol.weights import load_state_dict, load_weights

DEFAULT_BACKBONE = {"type": "timm_vit", "arch": "vit_small_patch16_224.dino", "frozen": True}
DEFAULT_CLS_HEAD = {"type": "linear_probe"}
DEFAULT_LOC_HEAD = {"type": "attention_decoder"}
DEFAULT_PIXEL_SAMPLER = {"type": "otsu_roi"}
#: The reference TrCAM-V run: PCE only; size barrier (paper: 0.01) and CRF (paper: 2e-9 on its
#: lattice, 1.2e-9 here: ``wsvol.losses.crf``) off.
DEFAULT_LOSSES = {
    "pce": {"type": "partial_ce", "loss_weight": 1.0},
    "size": {"type": "size_barrier", "loss_weight": 0.0},
    "crf": {"type": "crf", "loss_weight": 0.0},
}
#: What a loss's ``forward`` may ask for (by parameter name).
LOSS_INPUTS = ("logits", "seeds", "images", "maps")


def _with_default(cfg: Mapping | None, default: Mapping, what: str) -> dict:
    """``cfg`` itself if it names a ``type``; else ``default`` updated with it."""
    if cfg is None:
        return dict(default)
    if not isinstance(cfg, Mapping):
        raise TypeError(f"trcamv {what} must be a mapping (component config), got {type(cfg).__name__} {cfg!r}")
    return dict(cfg) if "type" in cfg else {**default, **cfg}


def _loss_arguments(loss: nn.Module, name: str) -> tuple[str, ...]:
    """Names among LOSS_INPUTS that ``loss.forward`` takes; raise if it needs anything else."""
    params = [
        p for p in inspect.signature(loss.forward).parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]  # fmt: skip
    unknown = [p.name for p in params if p.name not in LOSS_INPUTS and p.default is p.empty]
    if unknown:
        raise TypeError(
            f"trcamv loss {name!r} ({type(loss).__name__}) needs {unknown}; a loss can only "
            f"take {', '.join(LOSS_INPUTS)}"
        )
    return tuple(p.name for p in params if p.name in LOSS_INPUTS)


@MODELS.register_module(name="trcamv")
class TrCAMV(BaseModel):
    """TrCAM-V: backbone → linear probe (class) + attention decoder (2-channel map), trained from pseudo-labels.

    Args:
        backbone: backbone config (default: frozen DINO ViT-S/16, ``timm_vit``). A config
            without ``type`` updates the default (likewise for every sub-config below).
        cls_head: classification head (default ``linear_probe``), built with ``backbone`` and
            ``num_classes``.
        loc_head: localization head (default ``attention_decoder``), built with ``backbone``.
            Each head takes the backbone output its ``reads`` attribute names (``cls_tokens``,
            ``attn``, ``features``, ``stages``), so any backbone pairs with heads that read what it gives.
        pixel_sampler: pseudo-pixel sampler (default ``otsu_roi``).
        losses: term name → loss config (logged as ``loss_<name>``); merged key by key into
            :data:`DEFAULT_LOSSES`. A term whose config is null or whose ``loss_weight`` is
            0 / null is not built and not computed.
        num_classes: number of tags.
        train_cls_head: also train the classification head with CE on ``gt_label``. False (the
            reference): the head is frozen, e.g. a linear probe trained beforehand.
        cls_head_checkpoint: weights file of the classification head (its own state dict, a
            DDP-saved one with ``module.`` keys, a whole model's with ``cls_head.`` keys, or a
            tag classifier's checkpoint, whose ``head.`` weights are taken).
        mean, std: per-channel input normalization in [0, 1] units, undone to give the CRF
            0–255 RGB; default the backbone's ``mean``/``std``.
        seed: base seed of the pixel sampler's draws (one generator per (seed, step)).
    """

    default_backbone: Mapping = DEFAULT_BACKBONE  #: what a ``backbone`` config without ``type`` updates
    default_cls_head: Mapping = DEFAULT_CLS_HEAD
    default_loc_head: Mapping = DEFAULT_LOC_HEAD
    default_pixel_sampler: Mapping = DEFAULT_PIXEL_SAMPLER
    default_losses: Mapping = DEFAULT_LOSSES
    #: the map is the foreground probability, scored as it is (TCAM's and TrCAM's ``SegmentationCam``
    #: maps are not min-max normalized: τ cuts at ``int(τ·max)`` of the probability itself)
    map_normalization: str = "none"

    def __init__(
        self,
        backbone: component("backbone") | None = None,
        cls_head: component("head") | None = None,
        loc_head: component("head") | None = None,
        pixel_sampler: component("pixel_sampler") | None = None,
        losses: dict[str, component("loss") | None] | None = None,
        num_classes: bounded(int, 1) = 10,
        train_cls_head: bool = False,
        cls_head_checkpoint: str | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        seed: int = 0,
        data_preprocessor: dict | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if int(num_classes) < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = int(num_classes)
        self.train_cls_head = bool(train_cls_head)
        self.seed = int(seed)

        self.backbone = BACKBONES.build(_with_default(backbone, self.default_backbone, "backbone"))
        self.cls_head = HEADS.build(
            _with_default(cls_head, self.default_cls_head, "cls_head"),
            default_args={"backbone": self.backbone, "num_classes": self.num_classes},
        )
        self.loc_head = HEADS.build(
            _with_default(loc_head, self.default_loc_head, "loc_head"),
            default_args={"backbone": self.backbone},
        )
        # a plain object, not a module: it holds no state of its own
        self.pixel_sampler = PIXEL_SAMPLERS.build(
            _with_default(pixel_sampler, self.default_pixel_sampler, "pixel_sampler")
        )
        self.losses = self._build_losses(losses)
        #: term name → the LOSS_INPUTS its forward takes
        self.loss_inputs = {name: _loss_arguments(loss, name) for name, loss in self.losses.items()}

        mean = mean if mean is not None else getattr(self.backbone, "mean", None)
        std = std if std is not None else getattr(self.backbone, "std", None)
        if mean is None or std is None:
            if any("images" in args for args in self.loss_inputs.values()):
                raise ValueError(
                    "trcamv needs mean and std (the input normalization) to give the CRF loss RGB "
                    f"images, and backbone {type(self.backbone).__name__} has none: set model.mean / model.std"
                )
            mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ValueError(f"mean and std need 3 values each, std > 0; got mean={mean!r}, std={std!r}")
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        # how many sampler draws were made: checkpointed, so a resumed run continues the sequence.
        # The host copy is what seeds the draws (reading the buffer on a GPU would wait for it);
        # loading a state dict refreshes it.
        self.register_buffer("sampler_step", torch.zeros((), dtype=torch.long))
        self._sampler_step = 0

        if cls_head_checkpoint:
            self.load_cls_head(cls_head_checkpoint)
        if not self.train_cls_head:
            self.cls_head.requires_grad_(False)
            if not cls_head_checkpoint:
                print_log(
                    "trcamv: the classification head is neither trained (train_cls_head) nor loaded "
                    "(cls_head_checkpoint); its classes are random unless a whole-model checkpoint is loaded",
                    logger="current", level=logging.WARNING,
                )  # fmt: skip

    # -- construction ------------------------------------------------------------------------
    def _build_losses(self, losses: Mapping[str, Any] | None) -> nn.ModuleDict:
        if losses is not None and not isinstance(losses, Mapping):
            raise TypeError(f"trcamv losses must map term names to loss configs, got {type(losses).__name__} {losses!r}")
        defaults = self.default_losses
        merged: dict[str, Any] = dict(defaults)
        for name, cfg in (losses or {}).items():
            if not str(name).isidentifier() or name == "cls":
                raise ValueError(f"trcamv loss term name {name!r} must be an identifier other than 'cls'")
            if cfg is not None and not isinstance(cfg, Mapping):
                raise TypeError(f"trcamv losses.{name} must be a loss config or null, got {cfg!r}")
            if cfg is not None and "type" not in cfg and name not in defaults:
                raise ValueError(f"trcamv losses.{name} has no 'type' (only {sorted(defaults)} have defaults)")
            merged[name] = cfg if cfg is None else _with_default(cfg, defaults.get(name, {}), f"losses.{name}")
        built = nn.ModuleDict()
        for name, cfg in merged.items():
            if cfg is None or ("loss_weight" in cfg and not cfg["loss_weight"]):
                continue
            loss = LOSSES.build(cfg)
            if getattr(loss, "loss_weight", 1) == 0:
                continue
            sampler_ignore = getattr(self.pixel_sampler, "ignore_index", None)
            loss_ignore = getattr(loss, "ignore_index", None)
            if None not in (sampler_ignore, loss_ignore) and sampler_ignore != loss_ignore:
                raise ValueError(
                    f"trcamv losses.{name}.ignore_index={loss_ignore} differs from the pixel sampler's "
                    f"ignore_index={sampler_ignore}: unlabelled pixels would be learned as a class"
                )
            built[name] = loss
        return built

    def init_weights(self) -> None:
        """No-op: weights are set at construction (timm init, ``pretrained``, ``cls_head_checkpoint``);
        mmengine's pass would re-initialize children that have their own ``init_weights``."""
        self._is_init = True

    def load_cls_head(self, path: str) -> None:
        """Load the classification head's weights from ``path`` (strict; see ``cls_head_checkpoint``)."""
        state = load_state_dict(path)
        if any(k.startswith("cls_head.") for k in state):
            state = {k[len("cls_head."):]: v for k, v in state.items() if k.startswith("cls_head.")}
        elif any(k.startswith("backbone.") for k in state) and any(k.startswith("head.") for k in state):
            state = {k[len("head."):]: v for k, v in state.items() if k.startswith("head.")}  # a tag classifier's
        elif state and all(k.startswith("module.") for k in state):
            state = {k[len("module."):]: v for k, v in state.items()}
        load_weights(self.cls_head, state, str(path))

    def train(self, mode: bool = True) -> TrCAMV:
        """Set train/eval mode; a classification head that is not trained stays in eval mode."""
        super().train(mode)
        if not self.train_cls_head:
            self.cls_head.eval()
        return self

    # -- pieces ------------------------------------------------------------------------------
    @property
    def backbone_frozen(self) -> bool:
        """True when no backbone parameter takes gradients (then it runs under no_grad)."""
        return not any(p.requires_grad for p in self.backbone.parameters())

    def extract(self, x: Tensor) -> dict[str, Tensor]:
        """Backbone features of images (B,3,H,W), without autograd when the backbone is frozen."""
        if self.backbone_frozen:
            with torch.no_grad():
                return self.backbone(x)
        return self.backbone(x)

    @property
    def sampler_step_value(self) -> int:
        """The sampler step (how many draws were made), read without touching the device."""
        return self._sampler_step

    @sampler_step_value.setter
    def sampler_step_value(self, step: int) -> None:
        self._sampler_step = int(step)
        self.sampler_step.fill_(self._sampler_step)  # queued on the device: no sync

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._sampler_step = int(self.sampler_step)  # once per load

    def sampler_generator(self, step: int, device: torch.device | str = "cpu") -> torch.Generator:
        """Generator on ``device`` seeded from (``seed``, ``step``): the same draws on every run
        (a CPU and a CUDA generator give different numbers from the same seed)."""
        state = np.random.SeedSequence([self.seed, int(step)]).generate_state(1, dtype=np.uint64)
        return torch.Generator(device=device).manual_seed(int(state[0]))

    def sample_seeds(self, maps: Tensor, step: int | None = None) -> Tensor:
        """Seed map (B,H,W) of pseudo-label maps at sampler ``step`` (default: the current one),
        drawn on the maps' device."""
        step = self._sampler_step if step is None else step
        return self.pixel_sampler(maps, generator=self.sampler_generator(step, maps.device))

    def classify(self, feats: Mapping[str, Any]) -> Tensor:
        """Class logits (B, C) from the backbone's outputs (the one the classification head ``reads``)."""
        return self.cls_head(_input_of(self.cls_head, feats, "cls_tokens"))

    def to_rgb(self, x: Tensor) -> Tensor:
        """Normalized inputs → 0–255 RGB (what the CRF compares)."""
        return (x.float() * self.std + self.mean) * 255.0

    # -- forward -----------------------------------------------------------------------------
    def forward(
        self,
        inputs: Tensor | Sequence[Tensor],
        data_samples: Sequence[Mapping] | None = None,
        mode: str = "tensor",
    ) -> Any:
        """``tensor`` → (cls logits, loc logits); ``loss`` → dict of terms; ``predict`` → one dict per frame."""
        x = _stack(inputs)
        if mode == "tensor":
            feats = self.extract(x)
            return self.classify(feats), self.loc_head(_input_of(self.loc_head, feats, "attn"))
        if mode == "loss":
            return self.loss(x, data_samples)
        if mode == "predict":
            return self.predict(x, data_samples)
        raise ValueError(f"unknown forward mode {mode!r}; expected 'tensor', 'loss' or 'predict'")

    def loss(self, x: Tensor, data_samples: Sequence[Mapping] | None) -> dict[str, Tensor]:
        """Every enabled term (``loss_<name>``, ``loss_cls``) of a batch; advances the sampler step."""
        samples = _check_samples(data_samples, len(x), "loss")
        feats = self.extract(x)
        logits = self.loc_head(_input_of(self.loc_head, feats, "attn"))
        maps = _pseudo_maps(samples, x)
        args: dict[str, Any] = {"logits": logits, "maps": maps}
        if any("seeds" in a for a in self.loss_inputs.values()):
            args["seeds"] = self.sample_seeds(maps)
        if any("images" in a for a in self.loss_inputs.values()):
            args["images"] = self.to_rgb(x)
        out = {f"loss_{name}": loss(**{k: args[k] for k in self.loss_inputs[name]})
               for name, loss in self.losses.items()}  # fmt: skip
        if self.train_cls_head:
            out["loss_cls"] = F.cross_entropy(self.classify(feats), _labels(samples, x.device))
        self.sampler_step_value = self._sampler_step + 1
        return out

    @torch.no_grad()
    def predict(self, x: Tensor, data_samples: Sequence[Mapping] | None = None) -> list[dict]:
        """Per frame: its data-sample keys + ``cam`` (H,W) FG probability, ``pred_label``, ``scores`` (CPU)
        and ``map_normalization`` (how the evaluation reads ``cam``)."""
        samples = (
            _check_samples(data_samples, len(x), "predict")
            if data_samples is not None
            else [{} for _ in range(len(x))]
        )
        scores, cams = (t.cpu() for t in self.localize(x))
        return [
            {**sample, "cam": cams[i], "pred_label": int(scores[i].argmax()), "scores": scores[i],
             "map_normalization": self.map_normalization}
            for i, sample in enumerate(samples)
        ]

    @torch.no_grad()
    def localize(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Images (B,3,H,W) → class probabilities (B,C) and FG probability maps (B,H,W), on their
        device: ``predict`` batched, in tensors only (what ``wsvol export`` traces)."""
        feats = self.extract(x)
        scores = self.classify(feats).float().softmax(1)
        logits = self.loc_head(_input_of(self.loc_head, feats, "attn")).float()
        if logits.shape[-2:] != x.shape[-2:]:
            logits = F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return scores, logits.softmax(1)[:, 1]


def _input_of(head: nn.Module, feats: Mapping[str, Any], default: str) -> Any:
    """The backbone output a head takes: the key its ``reads`` names (``default`` without one)."""
    key = getattr(head, "reads", default)
    if key not in feats:
        raise KeyError(f"head {type(head).__name__} reads the backbone output {key!r}, and the backbone gives "
                       f"{sorted(feats)}: pair it with a backbone that gives {key!r}")
    return feats[key]


def _stack(inputs: Tensor | Sequence[Tensor]) -> Tensor:
    if isinstance(inputs, Tensor):
        x = inputs
    else:
        shapes = {tuple(t.shape) for t in inputs}
        if len(shapes) != 1:
            raise ValueError(f"trcamv inputs of one batch must share a shape, got {sorted(shapes)}")
        x = torch.stack(list(inputs))
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"trcamv expects images (B, 3, H, W), got {tuple(x.shape)}")
    return x


def _check_samples(data_samples: Sequence[Mapping] | None, n: int, mode: str) -> list[Mapping]:
    if data_samples is None:
        raise ValueError(f"trcamv mode={mode!r} needs data_samples (one dict per frame)")
    samples = list(data_samples)
    if len(samples) != n:
        raise ValueError(f"trcamv got {len(samples)} data samples for {n} images")
    return samples


def _frame(sample: Mapping, i: int) -> str:
    return str(sample.get("frame_id", f"#{i} of the batch"))


def _pseudo_maps(samples: Sequence[Mapping], x: Tensor) -> Tensor:
    """(B,H,W) float maps from ``pseudo_map`` of each sample, checked against the input size and
    for values in [0, 1] where they are (on the host, as the loader gives them), then moved to
    the input's device in one transfer."""
    maps = []
    for i, sample in enumerate(samples):
        if sample.get("pseudo_map") is None:
            raise KeyError(
                f"frame {_frame(sample, i)} has no 'pseudo_map': the pseudo-label cache is missing "
                "(generate the pseudo-labels first and give the dataset its pseudo_label_reader)"
            )
        m = torch.as_tensor(sample["pseudo_map"])
        if tuple(m.shape) != tuple(x.shape[-2:]):
            raise ValueError(
                f"frame {_frame(sample, i)}: pseudo_map of shape {tuple(m.shape)} does not match the "
                f"input size {tuple(x.shape[-2:])} (it must go through the same transforms as the image)"
            )
        maps.append(m)
    on_host = all(m.device.type == "cpu" for m in maps)
    stacked = torch.stack([m.to(x.device if not on_host else "cpu", torch.float32) for m in maps])
    if on_host:
        check_map_range(stacked, "pseudo_map values")
    return _to_device(stacked, x.device)


def _to_device(t: Tensor, device: torch.device) -> Tensor:
    """``t`` on ``device``; a host tensor goes to a CUDA device pinned and without blocking."""
    if t.device == device:
        return t
    if t.device.type == "cpu" and device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def _labels(samples: Sequence[Mapping], device: torch.device) -> Tensor:
    labels = []
    for i, sample in enumerate(samples):
        if "gt_label" not in sample:
            raise KeyError(f"frame {_frame(sample, i)} has no 'gt_label' (needed by train_cls_head)")
        labels.append(int(sample["gt_label"]))
    return _to_device(torch.tensor(labels), device)

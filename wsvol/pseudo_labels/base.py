"""What every pseudo-label source provides: per-frame maps in [0, 1] from images and class tags."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor, nn

from wsvol.weights import WeightsFile


class PseudoLabelSource(nn.Module, ABC):
    """A frozen labeller: ``source(images, labels) -> maps``.

    ``images`` is a float tensor (B, 3, H, W) normalized with this source's ``mean``/``std``
    (given on the [0, 1] pixel scale); ``labels`` holds the class index of each frame (B,).
    The result is a float tensor (B, H, W) with values in [0, 1], one map per frame.
    """

    #: class names, indexed by class id
    class_names: tuple[str, ...]
    #: per-channel mean and std (RGB, [0, 1] pixel scale) the data pipeline must normalize with
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    #: (H, W) the source expects its input at, or None when any size works
    input_size: tuple[int, int] | None = None

    def __init__(self) -> None:
        """An empty source, in eval mode."""
        super().__init__()
        self.training = False

    @abstractmethod
    def forward(self, images: Tensor, labels: Tensor) -> Tensor:
        """Maps (B, H, W) in [0, 1] for ``images`` (B, 3, H, W) tagged with ``labels`` (B,)."""

    @classmethod
    def weights_files(cls) -> tuple[WeightsFile, ...]:
        """The named weights files this source needs (none by default)."""
        return ()

    def train(self, mode: bool = True) -> PseudoLabelSource:
        """A source is never trained: it stays in eval mode whatever ``mode`` says."""
        return super().train(False)

    def check_inputs(self, images: Tensor, labels: Tensor | list[int]) -> Tensor:
        """Validate ``images``/``labels``; return ``labels`` as a long tensor on the images' device."""
        if not isinstance(images, Tensor) or images.ndim != 4 or images.shape[1] != 3:
            shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
            raise ValueError(
                f"{type(self).__name__}: images must be a (B, 3, H, W) tensor, got {shape}"
            )
        if not images.is_floating_point():
            raise ValueError(
                f"{type(self).__name__}: images must be float (normalized), got {images.dtype}"
            )
        size = tuple(images.shape[-2:])
        if self.input_size is not None and size != tuple(self.input_size):
            raise ValueError(
                f"{type(self).__name__}: images are {size[0]}x{size[1]} but the source expects "
                f"{self.input_size[0]}x{self.input_size[1]}; resize frames in the data pipeline"
            )
        labels = torch.as_tensor(labels, device=images.device).long().reshape(-1)
        if labels.numel() != images.shape[0]:
            raise ValueError(
                f"{type(self).__name__}: {labels.numel()} labels for a batch of {images.shape[0]} images"
            )
        bad = labels[(labels < 0) | (labels >= len(self.class_names))]
        if bad.numel():
            raise ValueError(
                f"{type(self).__name__}: label {int(bad[0])} is not a class id "
                f"(0..{len(self.class_names) - 1}: {', '.join(self.class_names)})"
            )
        return labels

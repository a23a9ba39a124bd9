"""Published test-set numbers on YouTube-Objects (CorLoc and CL, %), with their sources, for
``wsvol compare`` to show beside measured runs.

Sources:

- ``SEED``: the TrCAM-V paper ("Leveraging Transformers for Weakly Supervised Object
  Localization in Unconstrained Videos"), Tables 1–2: the class-mean CorLoc ("avg") of every
  method, and CL for TrCAM-V and CAM. Its per-class values are not in the project's notes
  (``docs/method.md``, "Published numbers"), so they are left out rather than guessed.
- ``TCAM``: TCAM (Belharbi et al., WACV 2023), the table "Comparison with State-of-Art" of its
  poster and slides (``doc/poster.pdf``, ``doc/slides.pdf`` of sbelharbi/tcam-wsol-video):
  per-class CorLoc of TCAM, LayerCAM and CAM. Their averages equal the seed's.

Class order is :data:`~wsvol.data.classes.YOUTUBE_OBJECTS_CLASSES`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SEED = "TrCAM-V paper, Tables 1–2"
TCAM = "TCAM (WACV 2023) poster/slides, 'Comparison with State-of-Art'"
RELEASES = {"ytov1": "YouTube-Objects v1.0", "ytov22": "YouTube-Objects v2.2"}


@dataclass(frozen=True)
class Published:
    """One method's published numbers on one release (None: not published / not at hand)."""

    method: str  # as the papers name it
    corloc_mean: float  # the papers' "avg": unweighted mean of the 10 per-class CorLoc
    source: str
    cl: float | None = None
    per_class: tuple[float, ...] | None = None  # in YOUTUBE_OBJECTS_CLASSES order
    per_class_source: str | None = None
    keys: tuple[str, ...] = field(default=())  # what measured runs match it (see method_key)


def _row(method, key, avg, cl=None, per_class=None):
    return Published(method, avg, SEED, cl, per_class, TCAM if per_class else None, (key,))


PUBLISHED: dict[str, tuple[Published, ...]] = {
    "ytov1": (
        _row("CAM", "cam", 50.1, 85.3, (75.0, 55.5, 43.2, 69.7, 33.3, 52.4, 32.4, 74.2, 14.8, 50.0)),
        _row("GradCAM", "gradcam", 56.4),
        _row("GradCAM++", "gradcampp", 63.2),
        _row("Smooth-GradCAM++", "smooth_gradcampp", 57.1),
        _row("XGradCAM", "xgradcam", 56.7),
        _row("LayerCAM", "layercam", 65.6, None, (85.7, 88.9, 45.9, 78.8, 75.5, 61.9, 64.9, 64.5, 33.3, 56.2)),
        _row("TCAM", "tcam", 73.0, None, (90.5, 70.4, 62.2, 75.7, 84.8, 81.0, 81.0, 64.5, 70.4, 50.0)),
        _row("TrCAM-V (CLIP)", "trcamv_clip", 84.8, 92.2),
        _row("TrCAM-V (CLIPSeg)", "trcamv_clipseg", 83.8),
    ),
    "ytov22": (
        _row("CAM", "cam", 51.5, 73.9, (52.3, 66.4, 25.0, 66.4, 39.7, 87.8, 34.7, 53.6, 45.4, 43.7)),
        _row("GradCAM", "gradcam", 54.5),
        _row("GradCAM++", "gradcampp", 61.2),
        _row("Smooth-GradCAM++", "smooth_gradcampp", 59.5),
        _row("XGradCAM", "xgradcam", 54.6),
        _row("LayerCAM", "layercam", 66.0, None, (80.0, 84.5, 47.2, 73.5, 55.3, 83.6, 71.3, 60.8, 55.7, 48.1)),
        _row("TCAM", "tcam", 72.2, None, (79.4, 94.9, 75.7, 61.7, 68.8, 87.1, 75.0, 62.4, 72.1, 45.0)),
        _row("TrCAM-V (CLIP)", "trcamv_clip", 76.7, 87.9),
        _row("TrCAM-V (CLIPSeg)", "trcamv_clipseg", 80.0),
    ),
}


def published_for(release: str, key: str) -> Published | None:
    """The published row of ``release`` (``ytov1`` / ``ytov22``) that a method ``key`` matches."""
    return next((p for p in PUBLISHED.get(release, ()) if key in p.keys), None)

"""Pictures of results: heatmap overlays with predicted and true boxes."""

from wsvol.visualization.overlay import GT_COLOR, PRED_COLOR, draw_overlay, encode_png, save_png

__all__ = ["GT_COLOR", "PRED_COLOR", "draw_overlay", "encode_png", "save_png"]

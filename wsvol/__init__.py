"""wsvol: weakly supervised object localization in images and videos.

Importing this package is cheap (no torch); components live in sub-packages
(``wsvol.data``, ``wsvol.models``, ``wsvol.cams`` …) and are built by name from configs.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]

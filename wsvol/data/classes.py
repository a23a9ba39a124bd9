"""The YouTube-Objects classes (v1.0 and v2.2), by class id: the classes of the synthetic data too."""

YOUTUBE_OBJECTS_CLASSES: tuple[str, ...] = (
    "aeroplane", "bird", "boat", "car", "cat", "cow", "dog", "horse", "motorbike", "train",
)  # fmt: skip
#: class name → class id (the ``class_id.yaml`` of the fold files)
YOUTUBE_OBJECTS_CLASS_MAP: dict[str, int] = {name: i for i, name in enumerate(YOUTUBE_OBJECTS_CLASSES)}

"""What a model's numbers mean, known below every layer that uses it: the two input conventions
of VGG16-based networks and VOC's 21 class names. Models record them; ``minifcn.data`` reads,
preprocesses and draws with them (``data.transforms`` explains the conventions).
"""

# Per-channel constants are listed in the order of the network input's channels.
INPUT_CONVENTIONS = {
    "caffe": {
        "order": "BGR",
        "scale": 1.0,
        "mean": (104.00698793, 116.66876762, 122.67891434),  # B, G, R on 0..255
        "std": (1.0, 1.0, 1.0),
    },
    "torchvision": {
        "order": "RGB",
        "scale": 1.0 / 255.0,
        "mean": (0.485, 0.456, 0.406),  # R, G, B on 0..1
        "std": (0.229, 0.224, 0.225),
    },
}

VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
    "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)

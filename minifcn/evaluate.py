"""Evaluation: run a model over a dataset and score it with the four FCN metrics."""
import numpy as np

from . import backend
from .data.transforms import preprocess
from .metrics import ConfusionMatrix
from .nn import no_grad


def predict_scores(model, image):
    """(n_class, H, W) scores for one uint8 RGB image, on the model's device (no host copy)."""
    x = preprocess(image, getattr(model, "input_convention", "caffe"), model.dtype)[None]
    return model(backend.to_device(x, model.device))[0]


def evaluate(model, dataset, progress=False, limit=None):
    """Mean IU and friends of ``model`` on ``dataset`` (whole images, batch 1, eval mode).

    Returns {'acc', 'acc_cls', 'mean_iu', 'fwavacc', 'iu': {class name: IU or None}}, from one
    confusion matrix over the whole set (FCN.md: how the papers and torchfcn compute them).
    ``limit`` evaluates only the first ``limit`` images.
    """
    was_training = model.training
    model.eval()
    n = len(dataset) if limit is None else min(limit, len(dataset))
    cm = ConfusionMatrix(dataset.n_class)
    items = range(n)
    if progress:
        from tqdm import tqdm
        items = tqdm(items, desc="eval", leave=False)
    try:
        with no_grad():
            for i in items:
                image, label = dataset[i]
                pred = predict_scores(model, image).argmax(axis=0)
                cm.update(label, backend.to_cpu(pred))
    finally:
        model.train(was_training)
    scores = {k: float(v) for k, v in cm.scores().items()}
    names = getattr(dataset, "class_names", None) or [str(c) for c in range(dataset.n_class)]
    scores["iu"] = {name: (None if np.isnan(v) else float(v)) for name, v in zip(names, cm.iu)}
    return scores

"""Evaluation: run a model over a dataset and score it with the four FCN metrics."""
import numpy as np

from .metrics import ConfusionMatrix, class_shares, collapse_warning
from .predict import predict


def evaluate(model, dataset, progress=False, limit=None, iteration=None, iterations=None):
    """Mean IU and friends of ``model`` on ``dataset`` (whole images, batch 1, eval mode).

    Returns {'acc', 'acc_cls', 'mean_iu', 'fwavacc', 'iu': {class name: IU or None},
    'pred_share' and 'label_share': {class name: share of the counted pixels predicted as /
    labelled as it}, 'collapse': a warning text when one class took nearly all predictions
    (``metrics.collapse_warning``; iteration/iterations tell it how far the run is), else None},
    from one confusion matrix over the whole set (docs/fcn.md §7: as the papers and torchfcn
    compute them). ``limit`` evaluates only the first ``limit`` images.
    """
    n_class = getattr(model, "n_class", dataset.n_class)
    if n_class != dataset.n_class:
        raise ValueError(f"the model predicts {n_class} classes but the dataset "
                         f"{getattr(dataset, 'root', '')} has {dataset.n_class}: evaluate a "
                         f"model trained on it")
    n = len(dataset) if limit is None else min(limit, len(dataset))
    if n == 0:
        raise ValueError("nothing to evaluate: the dataset is empty")
    cm = ConfusionMatrix(dataset.n_class)
    items = range(n)
    if progress:
        from tqdm import tqdm
        items = tqdm(items, desc="eval", leave=False)
    for i in items:
        image, label = dataset[i]
        cm.update(label, predict(model, image))
    scores = {k: float(v) for k, v in cm.scores().items()}
    names = getattr(dataset, "class_names", None) or [str(c) for c in range(dataset.n_class)]
    scores["iu"] = {name: (None if np.isnan(v) else float(v)) for name, v in zip(names, cm.iu)}
    pred, true = class_shares(cm.hist)
    scores["pred_share"] = {name: round(float(v), 6) for name, v in zip(names, pred)}
    scores["label_share"] = {name: round(float(v), 6) for name, v in zip(names, true)}
    scores["collapse"] = collapse_warning(cm.hist, list(names), iteration, iterations)
    return scores

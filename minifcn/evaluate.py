"""Evaluation: run a model over a dataset and score it with the four FCN metrics."""
import numpy as np

from .metrics import ConfusionMatrix, class_shares, collapse_warning
from .predict import predict


def check_classes(model, dataset, same_names=True):
    """ValueError when ``model`` predicts another number of classes than ``dataset`` labels, or
    (``same_names``) classes of other names: scored anyway, each IU would be filed under another
    class's name. A model without class names is taken at its word."""
    n_class = getattr(model, "n_class", dataset.n_class)
    theirs = list(getattr(dataset, "class_names", None) or [])
    ours = list(getattr(model, "class_names", None) or [])
    where = getattr(dataset, "root", "")
    if n_class != dataset.n_class:
        raise ValueError(f"the model predicts {n_class} classes ({', '.join(ours) or 'unnamed'}) "
                         f"but the dataset {where} has {dataset.n_class} "
                         f"({', '.join(theirs)}): evaluate a model trained on it")
    if same_names and ours and theirs and ours != theirs:
        differ = [f"{i}: {a!r} / {b!r}" for i, (a, b) in enumerate(zip(ours, theirs)) if a != b]
        raise ValueError(f"the model's classes and the dataset's ({where}) differ in name "
                         f"(index: model / dataset): {'; '.join(differ[:4])}"
                         f"{' …' if len(differ) > 4 else ''}. Model: {', '.join(ours)}; "
                         f"dataset: {', '.join(theirs)}. Score it anyway with "
                         f"--allow-other-names (same_names=False)")


def evaluate(model, dataset, progress=False, limit=None, iteration=None, iterations=None,
             same_names=True):
    """Mean IU and friends of ``model`` on ``dataset`` (whole images, batch 1, eval mode).

    Returns {'acc', 'acc_cls', 'mean_iu', 'fwavacc', 'iu': {class name: IU or None},
    'pred_share' and 'label_share': {class name: share of the counted pixels predicted as /
    labelled as it}, 'collapse': a warning text when one class took nearly all predictions
    (``metrics.collapse_warning``; iteration/iterations tell it how far the run is), else None},
    from one confusion matrix over the whole set (docs/fcn.md §7: as the papers and torchfcn
    compute them). ``limit`` evaluates only the first ``limit`` images. A model whose classes
    are not the dataset's is refused (``check_classes``; ``same_names=False`` lets names differ).
    """
    check_classes(model, dataset, same_names)
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

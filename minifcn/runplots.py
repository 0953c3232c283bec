"""A training run's figures: what ``minifcn.runfolder`` stored, drawn with ``minifcn.plots``.

    loss.png          the loss of every iteration (log.csv)
    metrics.png       the four scores at each evaluation (eval.csv)
    predictions.png   the first validation images beside their labels and the model's predictions

This module sits above both: ``runfolder`` only stores and reads files, ``plots`` only turns
arrays and palettes into figures.
"""
from . import plots
from .data.palette import label_palette
from .predict import predict
from .runfolder import RunFolder


def draw_run(folder, model, val, history, log_rows, n_examples=4):
    """loss.png, metrics.png and predictions.png (the first validation images) in ``folder``
    (a ``RunFolder``)."""
    if log_rows:
        plots.plot_loss([int(r["iteration"]) for r in log_rows],
                        [float(r["loss"]) for r in log_rows], folder.file("loss.png"))
    if history:
        plots.plot_metrics(history, folder.file("metrics.png"))
    if val is not None and len(val):
        samples = [val[i] for i in range(min(n_examples, len(val)))]
        plots.plot_predictions([im for im, _ in samples], [lab for _, lab in samples],
                               [predict(model, im) for im, _ in samples],
                               folder.file("predictions.png"),
                               class_names=getattr(val, "class_names", None),
                               palette=label_palette(getattr(val, "class_colors", None)))


def plot_run(run_dir, path=None, title=None):
    """``plots.plot_training`` from a run folder's ``log.csv`` and ``eval.csv`` (``minifcn.train``'s
    output). Returns ``path`` or, if None, the figure."""
    run = RunFolder(run_dir)
    return plots.plot_training(run.read_log(), run.read_evaluations(), path, title)

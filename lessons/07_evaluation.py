"""Lesson 07: evaluation. Pixel accuracy, mean accuracy, mean IU and frequency-weighted IU.

Every FCN paper reports four numbers, all read off one confusion matrix accumulated over the
whole validation set. This lesson computes them by hand on a tiny example and checks them
against minifcn.metrics, shows what VOC's label 255 does, why mean IU is the number everyone
quotes, and then scores a trained FCN-8s class by class (the one in data/pretrained/ that
lesson 05 looked at; --train trains it again). (The metrics of FCN, CVPR 2015 §5; docs/fcn.md §7.)
"""
# %% In a notebook: install minifcn if it is missing
# Jupyter or Colab: open this notebook from the lessons/ folder of a minifcn checkout (Colab:
# upload or clone the whole repository); importing _common then runs pip install on it when
# minifcn is missing. On a GPU (Colab has CuPy: Runtime > Change runtime type > GPU), run the
# lesson on 'cuda' by giving the Setup cell's parse_args argv=["--device", "cuda"].
import _common

# %% Setup

from _common import np, plt, say, section

import minifcn
from minifcn import data, metrics

args = _common.parse_args("07_evaluation", "Evaluation: the four metrics of FCN",
                          pretrained=True)
_common.intro(args)

# %% 1. Four numbers from one confusion matrix, by hand
section("1. Four numbers from one confusion matrix, by hand")
say("""
    A 6×10 label map with three classes: 0 background ('.'), 1 circle ('c'), 2 square ('s'),
    and 255 ('#'), VOC's "void" label for pixels nobody should be scored on (object outlines,
    ambiguous regions). Below it, a prediction with a few mistakes:
""")
gt = np.zeros((6, 10), dtype=np.int32)
gt[1:4, 1:4] = 1                         # a circle
gt[2:6, 6:10] = 2                        # a square
gt[1:5, 5] = 255                         # a void band between them
pred = np.zeros_like(gt)
pred[1:5, 1:4] = 1                       # the circle, one row too tall
pred[3:6, 6:9] = 2                       # the square, too small
pred[0, 8:10] = 1                        # a spurious circle
pred[1:5, 5] = 1                         # whatever is predicted on void does not count
GLYPH = {0: ".", 1: "c", 2: "s", 255: "#"}
print("ground truth          prediction")
for row_t, row_p in zip(gt, pred):
    print("  " + " ".join(GLYPH[v] for v in row_t) + "     " + " ".join(GLYPH[v] for v in row_p))

n = 3
hist = np.zeros((n, n), dtype=np.int64)
for t, p in zip(gt.ravel(), pred.ravel()):
    if 0 <= t < n:                       # 255 is skipped: it is not a class
        hist[t, p] += 1
names = ["background", "circle", "square"]
print(f"\nconfusion matrix hist[true, predicted] over the {hist.sum()} scored pixels "
      f"({(gt == 255).sum()} void pixels skipped):")
print(" " * 16 + "".join(f"{'pred ' + nm[:6]:>13}" for nm in names))
for i, nm in enumerate(names):
    print(f"{'true ' + nm:>16}" + "".join(f"{v:>13}" for v in hist[i]))
diag, rows, cols = np.diag(hist), hist.sum(axis=1), hist.sum(axis=0)
acc = diag.sum() / hist.sum()
acc_cls = diag / rows
iu = diag / (rows + cols - diag)
freq = rows / hist.sum()
fwiu = (freq * iu).sum()
print(f"""
  diagonal (right)            {diag}
  row sums (true pixels)      {rows}
  column sums (predicted)     {cols}

  pixel accuracy  = Σ diagonal / Σ all                 = {diag.sum()}/{hist.sum()} = {acc:.4f}
  class accuracy  = diagonal / row sums                = {np.round(acc_cls, 4)}
  mean accuracy   = mean of those                      = {acc_cls.mean():.4f}
  IU (per class)  = diagonal / (row + column − diagonal)
                  = {diag} / {rows + cols - diag}       = {np.round(iu, 4)}
  mean IU         = mean of the IUs                    = {iu.mean():.4f}
  frequency       = row sums / Σ all                   = {np.round(freq, 4)}
  f.w. IU         = Σ frequency · IU                   = {fwiu:.4f}""")
ours = (acc, acc_cls.mean(), iu.mean(), fwiu)
lib = metrics.label_accuracy_score([gt], [pred], n)
print(f"\nminifcn.metrics.label_accuracy_score: {tuple(round(v, 4) for v in lib)}")
print(f"largest difference from the hand computation: "
      f"{max(abs(a - b) for a, b in zip(ours, lib)):.1e}")
say("""
    IU, intersection over union, is the overlap of the predicted and the true region of a class
    divided by their union: the diagonal is the intersection, row + column − diagonal the
    union. It punishes both kinds of mistake: pixels of the class that were missed (they lower
    the diagonal) and pixels wrongly given to it (they grow the column). Class accuracy only
    sees the first kind: the spurious circle in the top right costs the circle nothing in
    class accuracy, but it lowers the circle's IU.
""")

# %% 2. What 255 does
section("2. What 255 does")
pred_void = pred.copy()
pred_void[gt == 255] = 2                          # change the prediction on the void pixels only
same = metrics.label_accuracy_score([gt], [pred_void], n)
as_bg = metrics.label_accuracy_score([np.where(gt == 255, 0, gt)], [pred], n)
print(f"prediction changed on the void pixels only:   {tuple(round(v, 4) for v in same)}")
print(f"void counted as background instead:            {tuple(round(v, 4) for v in as_bg)}")
say("""
    Pixels labelled 255 are dropped before counting: whatever the net says there changes
    nothing (first line: the same four numbers). VOC draws a 5-pixel void band along every
    object's outline, because annotators cannot say exactly where an object ends; the shapes
    data of these lessons imitate it with a thin band. Treating void as a class, or as
    background, scores the net on guesses nobody can check (second line). The training loss
    ignores 255 in the same way (minifcn.nn.SoftmaxCrossEntropy(ignore_index=255)).
""")

# %% 3. Why mean IU is the headline number
section("3. Why mean IU is the headline number")
root = data.ensure_shapes()
val = data.load_dataset(root, "val")
n_val = 20 if args.quick else len(val)
labels = [val[i][1] for i in range(n_val)]
K = val.n_class


def scores(preds):
    return dict(zip(("acc", "acc_cls", "mean_iu", "fwavacc"),
                    metrics.label_accuracy_score(labels, preds, K)))


def shifted(lab, d):
    """The true label map moved d pixels to the right (background comes in at the left)."""
    out = np.zeros_like(lab)
    out[:, d:] = np.where(lab[:, :-d] == 255, 0, lab[:, :-d])
    return out


cheap = {
    "background everywhere": [np.zeros_like(lab) for lab in labels],
    f"'{val.class_names[1]}' everywhere": [np.ones_like(lab) for lab in labels],
    "the truth, 4 px to the right": [shifted(lab, 4) for lab in labels],
    "the truth, 12 px to the right": [shifted(lab, 12) for lab in labels],
}
bg_share = np.mean(np.concatenate([(lab[lab != 255] == 0).ravel() for lab in labels]))
print(f"{n_val} validation images of the shapes data; {100 * bg_share:.0f} % of their scored "
      f"pixels are background.\n")
print(f"{'prediction':<32} {'pixel acc':>9} {'mean acc':>9} {'mean IU':>8} {'f.w. IU':>8}")
for name, preds in cheap.items():
    s = scores(preds)
    print(f"{name:<32} {s['acc']:>9.3f} {s['acc_cls']:>9.3f} {s['mean_iu']:>8.3f} "
          f"{s['fwavacc']:>8.3f}")
say("""
    A constant answer gets one class right and every other one wrong. Answering background
    everywhere earns the background's share of the pixels as pixel accuracy, and
    frequency-weighted IU, dominated by the same large class, is fooled almost as much, yet not
    one object was found. Mean accuracy is 1/K for any constant answer, whichever class it
    names, however many false alarms that class causes. Mean IU gives every class the same
    weight *and* charges every false alarm to the class that raised it, so it is the score that
    says whether the objects were found and outlined. That is why FCN, and the papers after it,
    lead with mean IU (65.5 % for the original FCN-8s on VOC, whose pixel accuracy is 91.2 %).
    The shifted truths show the other side: mean IU falls as the outlines move, which is what
    the skip layers of lesson 05 fight for.

    All four are computed from one confusion matrix summed over the whole set, not averaged
    image by image: an image with 30 pixels of a class counts for 30 pixels.
""")

# %% 4. A trained FCN-8s, class by class
section("4. A trained FCN-8s, class by class")
model = _common.pretrained_models(args, names=("fcn8s",))["fcn8s"]
val = data.load_dataset(data.default_train_data(), "val")     # the data it was trained on
n_val = len(val)
say(f"""
    The FCN-8s that lesson 05 looked at: the main job's net (widths 8…64, 128×128 shapes),
    trained in stages by lessons/make_pretrained.py (data/pretrained/fcn8s.npz; --train trains
    it again). Its scores on all {n_val} validation images of the 128×128 shapes data:
""")
cm = metrics.ConfusionMatrix(K)
for i in range(n_val):
    image, label = val[i]
    cm.update(label, minifcn.predict(model, image))
s = cm.scores()
print(f"\nconfusion matrix over {n_val} validation images (rows: truth, columns: prediction):")
print(" " * 12 + "".join(f"{nm[:10]:>11}" for nm in val.class_names))
for i, nm in enumerate(val.class_names):
    print(f"{nm[:10]:>12}" + "".join(f"{v:>11}" for v in cm.hist[i]))
print(f"\n{'class':>12} {'IU':>6} {'accuracy':>9}")
with np.errstate(invalid="ignore", divide="ignore"):
    class_acc = np.diag(cm.hist) / cm.hist.sum(axis=1)
for nm, v, a in zip(val.class_names, cm.iu, class_acc):
    print(f"{nm:>12} {v:>6.3f} {a:>9.3f}")
print(f"\npixel acc {s['acc']:.3f}   mean acc {s['acc_cls']:.3f}   mean IU {s['mean_iu']:.3f}   "
      f"f.w. IU {s['fwavacc']:.3f}")
check = minifcn.evaluate(model, val, limit=n_val)
print(f"minifcn.evaluate on the same images: mean IU {check['mean_iu']:.3f} "
      f"(difference {abs(check['mean_iu'] - s['mean_iu']):.1e})")
say("""
    Read the matrix by rows: where did the pixels of each true class go? Off-diagonal counts in
    the background column are objects missed; in the background row, false alarms. Confusions
    between two shapes mean the net found an object but not its shape. The per-class IUs say
    which classes pull the mean down.
""")
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.1, 1]})
with np.errstate(invalid="ignore", divide="ignore"):
    norm = cm.hist / cm.hist.sum(axis=1, keepdims=True)
im = axes[0].imshow(norm, cmap="Blues", vmin=0, vmax=1)
for (i, j), v in np.ndenumerate(norm):
    axes[0].text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8,
                 color="white" if v > 0.6 else "black")
axes[0].set_xticks(range(K), val.class_names, rotation=45, ha="right")
axes[0].set_yticks(range(K), val.class_names)
axes[0].set_xlabel("predicted")
axes[0].set_ylabel("true")
axes[0].set_title("confusion matrix (each row sums to 1)")
fig.colorbar(im, ax=axes[0], fraction=0.046)
axes[1].bar(range(K), np.nan_to_num(cm.iu), color="C0")
axes[1].axhline(s["mean_iu"], color="C3", ls="--", label=f"mean IU {s['mean_iu']:.2f}")
axes[1].set_xticks(range(K), val.class_names, rotation=45, ha="right")
axes[1].set_ylim(0, 1.15)                       # headroom: the legend sits above the bars
axes[1].set_yticks(np.linspace(0, 1, 6))
axes[1].set_title("IU of each class")
axes[1].legend(loc="upper center", ncol=1, frameon=False)
_common.save_figure(fig, args, "confusion.png")

# %% Summary and questions
bg = scores(cheap["background everywhere"])
_common.summary([
    f"All four scores come from one confusion matrix summed over the whole set: the hand "
    f"computation and minifcn.metrics agree to "
    f"{max(abs(a - b) for a, b in zip(ours, lib)):.0e}.",
    "Pixels labelled 255 (void) are not counted: whatever a net predicts there changes "
    "nothing.",
    f"Answering background everywhere scores {bg['acc']:.2f} pixel accuracy but "
    f"{bg['mean_iu']:.2f} mean IU: mean IU weights every class the same and charges every "
    f"false alarm, which is why the papers lead with it.",
    f"The FCN-8s of section 4: mean IU {s['mean_iu']:.3f} over {n_val} validation images; the "
    f"IU of each class says which classes pull the mean down.",
], [
    "Build two images where averaging mean IU image by image and computing it from one summed "
    "matrix give different answers. Which is fairer to a small object?",
    "A net that draws every object two pixels too large: which of the four scores notice, and "
    "which hardly move?",
    "Write confusion_matrix, iu_per_class and segmentation_scores in "
    "lessons/exercises/ex07_evaluation.py and check them with "
    "`python lessons/exercises/check.py 7`. What should the IU be for a class that is "
    "predicted but never true?",
], ko=([
    f"네 지표는 모두 데이터 전체에 걸쳐 더한 혼동 행렬 하나에서 나옵니다: 손으로 한 계산과 "
    f"minifcn.metrics의 차이는 {max(abs(a - b) for a, b in zip(ours, lib)):.0e}였습니다.",
    "255(void)로 표시된 픽셀은 세지 않습니다: 망이 그곳에서 무엇을 예측하든 아무것도 바뀌지 "
    "않습니다.",
    f"모든 곳을 배경이라고 답하면 픽셀 정확도는 {bg['acc']:.2f}이지만 mean IU는 "
    f"{bg['mean_iu']:.2f}입니다: mean IU는 모든 클래스를 같은 무게로 보고 잘못된 검출을 모두 "
    f"벌점으로 셉니다. 그래서 논문들이 이 지표를 먼저 내세웁니다.",
    f"4절의 FCN-8s: 검증 이미지 {n_val}장에서 mean IU {s['mean_iu']:.3f}. 클래스별 IU를 보면 "
    f"어떤 클래스가 평균을 끌어내리는지 알 수 있습니다.",
], [
    "이미지마다 mean IU를 구해 평균한 값과, 더한 행렬 하나로 구한 값이 다른 두 이미지를 만들어 "
    "보세요. 작은 물체에 더 공정한 쪽은 어느 것일까요?",
    "모든 물체를 2픽셀씩 크게 그리는 망이 있습니다. 네 지표 가운데 어느 것이 알아차리고, 어느 "
    "것이 거의 움직이지 않을까요?",
    "lessons/exercises/ex07_evaluation.py의 confusion_matrix, iu_per_class, segmentation_scores를 "
    "작성하고 `python lessons/exercises/check.py 7`로 확인하세요. 예측은 되지만 정답에는 한 "
    "번도 없는 클래스의 IU는 얼마여야 할까요?",
]))

"""The training batches: a pure function of (seed, iteration), which is what makes resume exact.

Each epoch visits the images in a fresh random order drawn from (seed, epoch); sample j of
iteration i is flipped (augmentation) with a generator seeded by (seed, i, j). So iteration i
gets the same batch whether the run got there in one go or was stopped and resumed.
"""
import numpy as np

from .transforms import make_batch, random_crop, random_flip


class TrainBatches:
    """Training samples as a pure function of (seed, iteration)."""

    def __init__(self, dataset, seed, batch_size, augment, convention, dtype):
        self.dataset, self.seed, self.batch_size = dataset, seed, batch_size
        self.augment, self.convention, self.dtype = augment, convention, dtype
        self._epoch, self._order = None, None

    def _index(self, k):
        epoch, pos = divmod(k, len(self.dataset))
        if epoch != self._epoch:    # a fresh permutation every epoch, from (seed, epoch)
            self._epoch = epoch
            self._order = np.random.default_rng([self.seed, epoch]).permutation(len(self.dataset))
        return int(self._order[pos])

    def __call__(self, iteration):
        samples, size = [], None
        for j in range(self.batch_size):
            image, label = self.dataset[self._index(iteration * self.batch_size + j)]
            if self.augment:
                rng = np.random.default_rng([self.seed, iteration, j])
                image, label = random_flip(image, label, rng)
            if size is None:
                size = label.shape
            elif label.shape != size:      # batches of VOC images: crop to the first one's size
                image, label = random_crop(image, label, size,
                                           np.random.default_rng([self.seed, iteration, j, 1]))
            samples.append((image, label))
        return make_batch(samples, self.convention, self.dtype)

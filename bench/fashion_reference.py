# Fashion-MNIST training images exported by the TypeScript bench (raw uint8
# files) and SPC-2 pair batches over them (methods.md §1.3), for the PyTorch
# reference scripts of `bench train` and `bench defense`.
import numpy as np
import torch


class Spc2Batches:
    def __init__(self, images_file, labels_file):
        self.x = torch.from_numpy(np.fromfile(images_file, dtype=np.uint8).reshape(-1, 1, 28, 28))
        self.y = torch.from_numpy(np.fromfile(labels_file, dtype=np.uint8).astype(np.int64))
        self.by_class = {int(c): torch.nonzero(self.y == c).flatten() for c in torch.unique(self.y)}
        self.order = torch.randperm(len(self.y))

    def batch(self, b, pairs):
        """Images [2B,1,28,28] in [0,1] interleaved x0, x0', x1, x1', … and their labels."""
        idx = self.order[b * pairs:(b + 1) * pairs]
        partner = torch.stack([self._same_class(int(self.y[i])) for i in idx])
        both = torch.stack([idx, partner], 1).flatten()
        return self.x[both].float().div(255), self.y[both]

    def _same_class(self, label):
        members = self.by_class[label]
        return members[torch.randint(len(members), (1,))][0]

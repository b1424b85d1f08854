# Fashion-MNIST training images exported by the TypeScript bench (raw uint8
# files) and SPC-2 pair batches over them (docs/methods.md §2), for the PyTorch
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


def random_miner(emb, labels):
    """RobRank's random triplets on an SPC-2 batch: anchors at even positions, the positive is the
    pair partner, the negative uniform over the batch's images of other labels."""
    with torch.no_grad():
        a = torch.arange(0, emb.shape[0], 2)
        neg_mask = labels[a].unsqueeze(1) != labels.unsqueeze(0)
        scores = torch.rand(neg_mask.shape).masked_fill(~neg_mask, -1.0)
        return a, a + 1, scores.argmax(1)


def triplet_step(model, opt, images, labels, margin=0.2):
    """One step of RobRank's undefended training: embed (metric N), random triplets, triplet loss, Adam.
    Returns the loss."""
    emb = torch.nn.functional.normalize(model(images), dim=1)
    a, p, n = random_miner(emb, labels)
    loss = torch.nn.functional.triplet_margin_loss(emb[a], emb[p], emb[n], margin=margin)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss

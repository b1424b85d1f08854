# The PyTorch side of `rankshield bench train`: the same SPC-2 triplet training
# (c2f2, metric N, random miner, margin 0.2, Adam 1e-3 / 1e-7) on the same
# Fashion-MNIST training images, exported by bench/train.ts as raw uint8.
# Prints one JSON line: seconds for the timed batches.
import json, sys, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from c2f2_reference import C2F2

images_file, labels_file, threads, pairs, batches = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(threads)
torch.manual_seed(0)
x_all = torch.from_numpy(np.fromfile(images_file, dtype=np.uint8).reshape(-1, 1, 28, 28))
y_all = torch.from_numpy(np.fromfile(labels_file, dtype=np.uint8).astype(np.int64))
by_class = {int(c): torch.nonzero(y_all == c).flatten() for c in torch.unique(y_all)}


def random_miner(emb, labels):
    # anchors = even positions, positive = partner, negative uniform over other labels
    with torch.no_grad():
        a = torch.arange(0, emb.shape[0], 2)
        neg_mask = labels[a].unsqueeze(1) != labels.unsqueeze(0)
        scores = torch.rand(neg_mask.shape).masked_fill(~neg_mask, -1.0)
        return a, a + 1, scores.argmax(1)

model = C2F2()
opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-7)
order = torch.randperm(len(y_all))
t0 = time.perf_counter()
for b in range(batches):
    idx = order[b * pairs:(b + 1) * pairs]
    partner = torch.stack([by_class[int(y_all[i])][torch.randint(len(by_class[int(y_all[i])]), (1,))][0] for i in idx])
    both = torch.stack([idx, partner], 1).flatten()
    images = x_all[both].float().div(255)
    labels = y_all[both]
    emb = F.normalize(model(images), dim=1)
    a, p, n = random_miner(emb, labels)
    loss = F.triplet_margin_loss(emb[a], emb[p], emb[n], margin=0.2)
    opt.zero_grad()
    loss.backward()
    opt.step()
print(json.dumps({"seconds": time.perf_counter() - t0, "batches": batches}))

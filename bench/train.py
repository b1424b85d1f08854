# The PyTorch side of `rankshield bench train`: the same SPC-2 triplet training
# (c2f2, metric N, random miner, margin 0.2, Adam 1e-3 / 1e-7) on the same
# Fashion-MNIST training images, exported by bench/train.ts as raw uint8.
# Prints one JSON line: seconds for the timed batches.
import json, sys, time
import torch
from c2f2_reference import C2F2
from fashion_reference import Spc2Batches, triplet_step

images_file, labels_file, threads, pairs, batches = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(threads)
torch.manual_seed(0)


model = C2F2()
opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-7)
data = Spc2Batches(images_file, labels_file)
t0 = time.perf_counter()
for b in range(batches):
    images, labels = data.batch(b, pairs)
    triplet_step(model, opt, images, labels)
print(json.dumps({"seconds": time.perf_counter() - t0, "batches": batches}))

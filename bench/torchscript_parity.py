# The PyTorch side of bench/torchscript-parity.ts: trains RobRank's c2f2 on the
# exported Fashion-MNIST training images (SPC-2 batches, random triplets, metric N,
# Adam 1e-3), then writes its state dict (torch.save) and a torch.jit.trace of it.
import json, sys
import torch
from c2f2_reference import C2F2
from fashion_reference import Spc2Batches, triplet_step

images_file, labels_file, batches, out_pth, out_pt = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
torch.manual_seed(0)
model = C2F2()
opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-7)
data = Spc2Batches(images_file, labels_file)
for b in range(batches):
    images, labels = data.batch(b, 128)
    loss = triplet_step(model, opt, images, labels)
model.eval()
torch.save(model.state_dict(), out_pth)
torch.jit.trace(model, torch.rand(2, 1, 28, 28)).save(out_pt)
print(json.dumps({"batches": batches, "loss": float(loss)}))

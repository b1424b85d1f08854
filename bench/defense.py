# The PyTorch side of `rankshield bench defense`: HM[S, g_LGA] adversarial
# training of c2f2 on Fashion-MNIST (docs/methods.md §7): softhard source triplets,
# a semihard destination draw (consumes randomness like the reference), the
# g_LGA destination from the previous loss, PGD with the |J_t − J_{t−1}| < 1e-7
# stop, triplet loss on the adversarial triplets. Same data as bench/defense.ts
# (raw uint8 files it exports). Prints one JSON line with the seconds.
import json, sys, time
import torch
import torch.nn.functional as F
from c2f2_reference import C2F2
from fashion_reference import Spc2Batches

images_file, labels_file, threads, pairs, batches, eta = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
torch.set_num_threads(threads)
torch.manual_seed(0)
EPS, ALPHA, GAMMA = 77 / 255, 3 / 255, 0.2


def uniform_choice(mask):
    return torch.rand(mask.shape).masked_fill(~mask, -1.0).argmax(1)


def miner_distances(e):
    prod = e @ e.t()
    sq = prod.diag()
    return (sq[:, None] + sq[None, :] - 2 * prod).clamp_min(0).sqrt()


def softhard(e, labels):
    a = torch.arange(0, e.shape[0], 2)
    d2 = miner_distances(e)[a] ** 2
    same = labels[a, None] == labels[None, :]
    neg = ~same
    max_pos = d2.masked_fill(neg, float('-inf')).max(1).values
    cand_n = neg & (d2 < max_pos[:, None])
    cand_n = torch.where(cand_n.any(1, keepdim=True), cand_n, neg)
    min_neg = d2.masked_fill(same, float('inf')).min(1).values
    cand_p = same & (d2 > min_neg[:, None])
    cand_p = torch.where(cand_p.any(1, keepdim=True), cand_p, same)
    return a, uniform_choice(cand_p), uniform_choice(cand_n)


def semihard(e, labels):
    a = torch.arange(0, e.shape[0], 2)
    d = miner_distances(e)[a]
    neg = labels[a, None] != labels[None, :]
    dap = d[torch.arange(len(a)), a + 1]
    cand = neg & (dap[:, None] ** 2 < d ** 2) & (dap[:, None] - d + GAMMA > 0)
    cand = torch.where(cand.any(1, keepdim=True), cand, neg)
    return a, a + 1, uniform_choice(cand)


def hardness(za, zp, zn):
    return (za - zp).norm(dim=1) - (za - zn).norm(dim=1)


model = C2F2()
opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-7)
data = Spc2Batches(images_file, labels_file)
prev_loss = 2.0
t0 = time.perf_counter()
for b in range(batches):
    images, labels = data.batch(b, pairs)
    model.eval()
    with torch.no_grad():
        e = F.normalize(model(images), dim=1)
        A, P, N = softhard(e, labels)
        semihard(e, labels)  # destination draw, replaced by g_LGA
    lbar = min(max(prev_loss, 0.0), GAMMA) / GAMMA
    h_dest = -GAMMA * lbar
    X = torch.cat([images[A], images[P], images[N]])
    x_adv = X.clone()
    B = len(A)
    prev_j = -1.0
    for _ in range(eta):
        x_adv.requires_grad_(True)
        z = F.normalize(model(x_adv), dim=1)
        j = (hardness(z[:B], z[B:2 * B], z[2 * B:]) - h_dest).clamp(max=0).square().sum() / B
        g, = torch.autograd.grad(j, [x_adv])
        with torch.no_grad():
            x_adv = torch.min(torch.max(x_adv - ALPHA * g.sign(), X - EPS), X + EPS).clamp(0, 1)
        jv = j.item()
        if abs(jv - prev_j) < 1e-7:
            break
        prev_j = jv
    model.train()
    z = F.normalize(model(x_adv.detach()), dim=1)
    loss = F.triplet_margin_loss(z[:B], z[B:2 * B], z[2 * B:], margin=GAMMA)
    prev_loss = loss.item()
    opt.zero_grad()
    loss.backward()
    opt.step()
print(json.dumps({"seconds": time.perf_counter() - t0, "batches": batches}))

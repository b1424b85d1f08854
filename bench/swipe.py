# The PyTorch side of `rankshield bench swipe`: the rob28 swipe (nine ranking
# attacks, ε 77/255, α 3/255) batched over the queries of a batch exactly as
# rankshield runs it: gallery embedded once, clean selections per batch, the
# same [B, N] objectives, torch.cdist with its default compute mode, the same
# PGD update. Run by bench/swipe.ts with /usr/bin/python3 (or --python's); prints one JSON line.
# argv: threads gallery batch batches steps [device]; a CUDA device becomes torch's default device
# (torch >= 2.0), so every tensor below is made there.
import json, sys, time
import torch
import torch.nn.functional as F
from c2f2_reference import C2F2

threads, gallery_size, batch, batches, steps = (int(a) for a in sys.argv[1:6])
device = sys.argv[6] if len(sys.argv) > 6 else "cpu"
if device != "cpu":
    torch.set_default_device(device)
torch.set_num_threads(threads)
torch.manual_seed(0)


EPS, ALPHA = 77 / 255, 3 / 255
model = C2F2().eval()
images = torch.rand(gallery_size, 1, 28, 28)
labels = torch.arange(gallery_size) % 10

def embed(x):
    return F.normalize(model(x), dim=-1)  # metric N

def dist(a, b):
    return torch.cdist(a, b)  # default compute mode, as RobRank

t0 = time.perf_counter()
with torch.no_grad():
    X = torch.cat([embed(images[i:i + batch]) for i in range(0, gallery_size, batch)])
gallery_s = time.perf_counter() - t0
N = X.shape[0]
T = N // 100

def pgd(x0, objective):
    x = x0.clone()
    last = None
    for it in range(steps):
        xa = x.detach().requires_grad_(True)
        e = embed(xa)
        if it == steps - 1:
            last = e.detach()
        j = objective(e, it)
        g, = torch.autograd.grad(j, [xa])
        step = ALPHA if steps > 1 else EPS
        with torch.no_grad():
            x = torch.min(torch.max(xa - step * g.sign(), x0 - EPS), x0 + EPS).clamp(0, 1)
    with torch.no_grad():
        return embed(x), last

def qa_obj(e, cand, plus):
    d = dist(e, X)
    dc = d.gather(1, cand).unsqueeze(2)
    gap = dc - d.unsqueeze(1) if plus else d.unsqueeze(1) - dc
    return gap.relu().mean()

def run_batch(x, y):
    with torch.no_grad():
        e0 = embed(x)
        D0 = dist(e0, X)
        ranking = D0.argsort(1)
        self_idx = D0.argmin(1)
        masked = D0.scatter(1, self_idx.unsqueeze(1), 1e38)
    B = x.shape[0]
    out = {}
    # CA+ / CA-
    for plus in (True, False):
        idx = torch.randint(0, N, (B, 1)) if plus else ranking.gather(1, torch.randint(1, T + 1, (B, 1)))
        Q = X[idx]
        QX = dist(Q.reshape(B, -1), X).view(B, 1, N)
        def obj(e, it):
            dc = (e.unsqueeze(1) - Q).norm(dim=-1).unsqueeze(2)
            return ((dc - QX) if plus else (QX - dc)).relu().mean()
        fin, _ = pgd(x, obj)
        dc = (fin.unsqueeze(1) - Q).norm(dim=-1).unsqueeze(2)
        out['CA+' if plus else 'CA-'] = 100 * (QX < dc).float().mean().item()
    # QA+ / QA-
    for plus in (True, False):
        cand = torch.randint(0, N, (B, 1)) if plus else ranking.gather(1, torch.rand(B, T).argsort(1)[:, :1] + 1)
        fin, _ = pgd(x, lambda e, it: qa_obj(e, cand, plus))
        with torch.no_grad():
            d = dist(fin, X)
            out['QA+' if plus else 'QA-'] = 100 * (d.unsqueeze(1) < d.gather(1, cand).unsqueeze(2)).float().mean().item()
    # TMA
    tgt = X[torch.randint(0, N, (B,))]
    fin, _ = pgd(x, lambda e, it: (1 - F.cosine_similarity(e, tgt)).mean())
    out['TMA'] = F.cosine_similarity(fin, tgt).mean().item()
    def r1(fin):
        with torch.no_grad():
            d = dist(fin, X).scatter(1, self_idx.unsqueeze(1), 1e38)
            return 100 * (labels[d.argmin(1)] == y).float().mean().item()
    # ES
    fin, last = pgd(x, lambda e, it: -(e - (e0 + 1e-7 if it == 0 else e0)).norm(dim=-1).sum())
    out['ES:D'] = (last - e0).norm(dim=-1).mean().item()
    out['ES:R'] = r1(fin)
    # LTM
    same = labels.unsqueeze(0) == y.unsqueeze(1)
    def ltm(e, it):
        d = dist(e, X)
        return (d.masked_fill(same, -1e30).amax(1) - d.masked_fill(~same, 1e30).amin(1)).relu().sum()
    fin, _ = pgd(x, ltm)
    out['LTM'] = r1(fin)
    # GTM (reference index bug)
    with torch.no_grad():
        order = masked.argsort(1)
        rank = order.scatter(1, order, torch.arange(N).expand(B, N))
        matching = labels.unsqueeze(0) == labels[order[:, 0]].unsqueeze(1)
        best = rank.masked_fill(matching, N).argmin(1, keepdim=True)
        t = (~matching).long().cumsum(1).gather(1, best).squeeze(1) - 1
        tgt = X[t]
    fin, _ = pgd(x, lambda e, it: (e - tgt).norm(dim=-1).mean())
    out['GTM'] = r1(fin)
    # GTT
    top1 = masked.argmin(1)
    fin, _ = pgd(x, lambda e, it: qa_obj(e, top1.unsqueeze(1), False))
    with torch.no_grad():
        d = dist(fin, X).scatter(1, self_idx.unsqueeze(1), 1e38)
        out['GTT'] = 100 * (d.topk(4, 1, largest=False)[1] == top1.unsqueeze(1)).any(1).float().mean().item()
    return out

t0 = time.perf_counter()
queries = 0
for b in range(batches):
    x = images[b * batch:(b + 1) * batch]
    run_batch(x, labels[b * batch:(b + 1) * batch])
    queries += x.shape[0]
seconds = time.perf_counter() - t0
print(json.dumps({"queries": queries, "seconds": seconds, "qps": queries / seconds, "gallery_s": gallery_s}))

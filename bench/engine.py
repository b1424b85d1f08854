# The PyTorch side of `rankshield bench engine`: the same c2f2 work, timed the same way.
# Run by bench/engine.ts with /usr/bin/python3 (Debian python3-torch) or --python's; prints one JSON line.
# argv: threads batch warmup iters [device]; on CUDA every timed call ends with a synchronize.
import json, sys, time
import torch
import torch.nn.functional as F
from c2f2_reference import C2F2

threads, batch, warmup, iters = (int(a) for a in sys.argv[1:5])
device = torch.device(sys.argv[5] if len(sys.argv) > 5 else "cpu")
torch.set_num_threads(threads)
torch.manual_seed(0)


model = C2F2().to(device)
opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-7)
x = torch.rand(batch, 1, 28, 28, device=device)
sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

def forward():
    with torch.no_grad():
        model(x)

def train_step():
    opt.zero_grad(set_to_none=True)
    loss = model(x).pow(2).mean()
    loss.backward()
    opt.step()

def input_grad():
    xa = x.clone().requires_grad_(True)
    loss = model(xa).pow(2).mean()
    torch.autograd.grad(loss, [xa])

def tiny_add():
    a = torch.ones(4, device=device)
    for _ in range(1000):
        torch.add(a, a)

def median_ms(fn):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        sync()
        ts.append((time.perf_counter() - t0) * 1000)
    ts.sort()
    return ts[len(ts) // 2]

out = {
    "forward": median_ms(forward),
    "train_step": median_ms(train_step),
    "input_grad": median_ms(input_grad),
    "op_call_us": median_ms(tiny_add),  # 1000 calls -> ms == us per call
}
print(json.dumps(out))

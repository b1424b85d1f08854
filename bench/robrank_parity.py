# The RobRank side of `rankshield bench robrank`: RobRank's own attack code
# (its AdvRank class, imported from a checkout the user gives) run on a
# rankshield c2f2 checkpoint over the first query batches of the Fashion-MNIST
# test split, the whole split as the gallery, as RobRank's swipe does it: one
# AdvRank per attack, per-batch summaries averaged over batches.
#
#   python3 robrank_parity.py ROBRANK_DIR MODEL.safetensors IMAGES.u8 LABELS.u8 BATCHES THREADS SEED [KINDS]
#
# Prints one JSON line: {column: value, …, "seconds": s}. Columns and
# units are rankshield's (percent for rank percentiles and recalls).
import json
import struct
import sys
import time
import types
import importlib
import numpy as np
import torch
import torch.nn.functional as F
from c2f2_reference import C2F2

robrank_dir, model_file, images_file, labels_file = sys.argv[1:5]
batches, threads, seed = (int(a) for a in sys.argv[5:8])
torch.set_num_threads(threads)
EPS, ALPHA, STEPS, BATCH = 77 / 255, 3 / 255, 32, 128  # RobRank's rob28 profile


def load_safetensors(path):
    """The safetensors layout (u64 header length, JSON header, raw little-endian data), F32 only."""
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, meta in header.items():
        if name == '__metadata__':
            continue
        if meta['dtype'] != 'F32':
            raise ValueError(f'{name}: dtype {meta["dtype"]} (only F32 is expected in a c2f2)')
        lo, hi = meta['data_offsets']
        out[name] = torch.from_numpy(np.frombuffer(raw[8 + n + lo:8 + n + hi], dtype='<f4').copy()).view(meta['shape'])
    return out


def import_advrank(root):
    """RobRank's robrank.attacks.advrank without running its package __init__ files (they pull in
    the training stack); its one helper from robrank.utils, a JSON pretty-printer, is stubbed."""
    for name, sub in (('robrank', ''), ('robrank.attacks', '/attacks')):
        pkg = types.ModuleType(name)
        pkg.__path__ = [f'{root}/robrank{sub}']
        sys.modules[name] = pkg
    utils = types.ModuleType('robrank.utils')
    utils.rjson = lambda s: s + '\n'
    sys.modules['robrank.utils'] = utils
    return importlib.import_module('robrank.attacks.advrank').AdvRank


AdvRank = import_advrank(robrank_dir)
model = C2F2()
model.load_state_dict(load_safetensors(model_file))
model.eval()
x = torch.from_numpy(np.fromfile(images_file, dtype=np.uint8).reshape(-1, 1, 28, 28)).float().div(255)
y = torch.from_numpy(np.fromfile(labels_file, dtype=np.uint8).astype(np.int64))
with torch.no_grad():
    gallery = torch.cat([F.normalize(model(x[i:i + 512])) for i in range(0, len(x), 512)])
candi = (gallery, y)

# rankshield column -> (AdvRank settings, [(summary key, column, scale)])
RUNS = {
    'CA+': (dict(attack_type='CA', pm='+', W=1), [('CA+:prank', 'CA+', 100)]),
    'CA-': (dict(attack_type='CA', pm='-', W=1), [('CA-:prank', 'CA-', 100)]),
    'QA+': (dict(attack_type='QA', pm='+', M=1), [('QA+:prank', 'QA+', 100)]),
    'QA-': (dict(attack_type='QA', pm='-', M=1), [('QA-:prank', 'QA-', 100)]),
    'TMA': (dict(attack_type='TMA'), [('Cosine-SIM', 'TMA', 1)]),
    'ES': (dict(attack_type='ES'), [('embshift', 'ES:D', 1), ('r@1', 'ES:R', 1)]),
    'LTM': (dict(attack_type='LTM'), [('r@1', 'LTM', 100)]),
    'GTM': (dict(attack_type='GTM'), [('r@1', 'GTM', 100)]),
    'GTT': (dict(attack_type='GTT'), [('retain@4', 'GTT', 100), ('ID-Retain@1', 'GTT:ID-Retain@1', 100)]),
}
wanted = sys.argv[8].split(',') if len(sys.argv) > 8 else list(RUNS)

t0 = time.perf_counter()
sums = {}
for kind in wanted:
    settings, keys = RUNS[kind]
    attack = AdvRank(model, eps=EPS, alpha=ALPHA, pgditer=STEPS, metric='N', device='cpu', **settings)
    torch.manual_seed(seed)
    np.random.seed(seed)
    for b in range(batches):
        _, _, _, adv = attack(x[b * BATCH:(b + 1) * BATCH], y[b * BATCH:(b + 1) * BATCH], candi)
        for key, column, scale in keys:
            sums[column] = sums.get(column, 0.0) + scale * float(adv[key])
print(json.dumps({**{k: v / batches for k, v in sums.items()}, 'seconds': time.perf_counter() - t0}))

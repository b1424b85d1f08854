#!/usr/bin/env python3
"""Reference values of rankshield's losses from pytorch-metric-learning (PML).

Writes test/fixtures/losses-pml.json: for each loss, form and metric, float64
embeddings z [8, 6] (raw, before the metric's normalisation), SPC-2 labels,
fixed triplets, and PML's value and gradient d value / d z, where PML's
reduction may differ from ours (see "reduction" in each case; the TS test,
test/metric-losses.test.ts, recomputes the same reduction from rankshield's
terms; a published form is PML's class with its own reduction). The TS test needs no Python; rerun this to refresh the fixture or to
compare side by side:

  python3 -m venv ~/.cache/rankshield/pml-venv
  ~/.cache/rankshield/pml-venv/bin/pip install torch pytorch-metric-learning
  ~/.cache/rankshield/pml-venv/bin/python bench/losses_reference.py [--check]

--check prints PML's numbers next to the stored ones instead of writing.
"""
import json
import platform
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
import pytorch_metric_learning
from pytorch_metric_learning import losses, miners, distances, reducers, regularizers

torch.manual_seed(7)
torch.set_default_dtype(torch.float64)
Z = torch.randn(8, 6)
LABELS = torch.tensor([0, 0, 1, 1, 2, 2, 1, 1])
A = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7])
P = torch.tensor([1, 0, 3, 2, 5, 4, 7, 6])
N = torch.tensor([2, 4, 0, 5, 0, 2, 0, 4])


def embed(z, metric):
    return F.normalize(z, dim=-1) if metric in ('N', 'C') else z


def lp(metric):
    return distances.LpDistance(normalize_embeddings=(metric == 'N'), p=2, power=1)


def case_triplet(z, metric):
    loss = losses.TripletMarginLoss(margin=0.2 if metric == 'N' else 1.0, distance=lp(metric), reducer=reducers.MeanReducer())
    return loss(z, LABELS, (A, P, N)), 'mean over the triplets'


def case_spectral(z, metric):
    # the switched batch: triplets (a, a, p); margin 1.5 so that some violate it
    loss = losses.TripletMarginLoss(margin=1.5, distance=lp(metric), reducer=reducers.MeanReducer())
    return loss(z, LABELS, (A, A, P)), 'mean over the switched triplets (a, a, p)'


def case_contrastive(z, metric):
    loss = losses.ContrastiveLoss(pos_margin=0, neg_margin=1.0, distance=lp(metric), reducer=reducers.DoNothingReducer())
    out = loss(z, LABELS, (A, P, A, N))
    pos, neg = out['pos_loss']['losses'], out['neg_loss']['losses']
    return pos.mean() + neg.sum() / (neg > 0).sum().clamp(min=1), 'mean of the positive terms + mean of the non-zero negative terms'


# The margin loss's boundary per metric: PML's default 1.2 for N, 4.0 for E's larger distances, so
# that both hinge sets have non-zero terms on these triplets (N: 8 l+ and 2 l-, E: 4 l+ and 6 l-).
MARGIN_BETA = {'N': 1.2, 'E': 4.0}


def case_margin(z, metric):
    # The published form (Wu et al.): PML's own reduction, its default DivisorReducer.
    loss = losses.MarginLoss(margin=0.2, nu=0, beta=MARGIN_BETA[metric], triplets_per_anchor='all', learn_beta=False, distance=lp(metric))
    return loss(z, LABELS, (A, P, N)), f"PML's own: sum of pos+neg terms / number of non-zero terms (beta {MARGIN_BETA[metric]})"


def case_ms(z, metric):
    miner = miners.MultiSimilarityMiner(epsilon=0.1)
    loss = losses.MultiSimilarityLoss(alpha=2, beta=40, base=0.5)
    return loss(z, LABELS, miner(z, LABELS)), 'mean over all anchors (PML default)'


def lifted_distance(metric, m):
    """PML's distance and margins (neg, pos) for our metric: a similarity for C turns d = 1 - s into its margins."""
    if metric == 'C':
        return distances.CosineSimilarity(), 1 - m, 1
    return lp(metric), m, 0


def case_lifted_published(z, metric):
    dist, neg, pos = lifted_distance(metric, 0.2 if metric in ('N', 'C') else 1.0)
    loss = losses.LiftedStructureLoss(neg_margin=neg, pos_margin=pos, distance=dist)
    return loss(z, LABELS), "PML's own (Oh Song et al.): mean over ordered positive pairs of relu(J)^2 / 2"


def case_lifted_generalized(z, metric):
    dist, neg, pos = lifted_distance(metric, 0.2 if metric in ('N', 'C') else 1.0)
    loss = losses.GeneralizedLiftedStructureLoss(neg_margin=neg, pos_margin=pos, distance=dist)
    return loss(z, LABELS), "PML's own (Hermans et al.): mean over every row as an anchor"


def case_npair_published(z, metric):
    # Defaults: DotProductSimilarity normalises, one pair per class, cross-entropy.
    return losses.NPairsLoss()(z, LABELS), "PML's own: mean cross-entropy over one pair per class"


def case_snr_published(z, metric):
    # On the metric's embeddings (as ours gets them), so that the regulariser sees the same rows.
    x = embed(z, metric)
    loss = losses.SignalToNoiseRatioContrastiveLoss(
        pos_margin=0, neg_margin=1, distance=distances.SNRDistance(normalize_embeddings=False),
        embedding_regularizer=regularizers.ZeroMeanRegularizer(), embedding_reg_weight=0.005)
    return loss(x, LABELS, (A, P, A, N)), "PML's own: mean of non-zero pos + mean of non-zero neg (AvgNonZeroReducer) + 0.005 * mean |sum x| over the batch"


def case_lifted(z, metric):
    m = 0.2 if metric in ('N', 'C') else 1.0
    if metric == 'C':
        loss = losses.GeneralizedLiftedStructureLoss(neg_margin=1 - m, pos_margin=1, distance=distances.CosineSimilarity(), reducer=reducers.DoNothingReducer())
    else:
        loss = losses.GeneralizedLiftedStructureLoss(neg_margin=m, pos_margin=0, distance=lp(metric), reducer=reducers.DoNothingReducer())
    per_anchor = loss(z, LABELS)['loss']['losses']
    x = embed(z, metric)
    return per_anchor[0::2].mean() + 5e-3 * x.norm(dim=-1).mean(), 'mean over the even anchors + 5e-3 * mean norm (added here)'


def case_snr(z, metric):
    d = distances.SNRDistance(normalize_embeddings=(metric in ('N', 'C')))
    loss = losses.TripletMarginLoss(margin=0.2, distance=d, reducer=reducers.DoNothingReducer())
    h = loss(z, LABELS, (A, P, N))['loss']['losses']
    x = embed(z, metric)
    reg = x[A].sum(dim=1).abs().mean()
    return h.sum() / (h > 0).sum().clamp(min=1) + 0.005 * reg, 'sum / count of non-zero hinges + 0.005 * mean |sum a| (added here)'


def case_circle(z, metric):
    loss = losses.CircleLoss(m=0.4, gamma=80)
    return loss(z, LABELS), 'mean over all anchors (PML default: the mean of the non-zero per-anchor softplus terms, here all of them)'


# (loss, form, metric, case): form '' for a loss with one form; 'robrank' cases recompose RobRank's reduction from PML's terms.
CASES = [
    ('triplet', '', 'N', case_triplet), ('triplet', '', 'E', case_triplet),
    ('spectral-triplet', '', 'N', case_spectral),
    ('contrastive', '', 'N', case_contrastive), ('contrastive', '', 'E', case_contrastive),
    ('margin', 'published', 'N', case_margin), ('margin', 'published', 'E', case_margin),
    ('multi-similarity', '', 'N', case_ms),
    ('lifted', 'robrank', 'N', case_lifted), ('lifted', 'robrank', 'E', case_lifted), ('lifted', 'robrank', 'C', case_lifted),
    ('snr', 'robrank', 'N', case_snr), ('snr', 'robrank', 'E', case_snr),
    ('circle', '', 'N', case_circle),
    ('lifted', 'published', 'N', case_lifted_published), ('lifted', 'published', 'E', case_lifted_published), ('lifted', 'published', 'C', case_lifted_published),
    ('lifted', 'generalized', 'N', case_lifted_generalized), ('lifted', 'generalized', 'E', case_lifted_generalized), ('lifted', 'generalized', 'C', case_lifted_generalized),
    ('npair', 'published', 'N', case_npair_published), ('npair', 'published', 'E', case_npair_published), ('npair', 'published', 'C', case_npair_published),
    ('snr', 'published', 'N', case_snr_published), ('snr', 'published', 'E', case_snr_published), ('snr', 'published', 'C', case_snr_published),
]


def run():
    out = []
    for name, form, metric, fn in CASES:
        z = Z.clone().requires_grad_()
        value, reduction = fn(z, metric)
        value.backward()
        params = {'beta': MARGIN_BETA[metric]} if name == 'margin' else {}
        out.append({'loss': name, 'form': form, 'metric': metric, 'params': params, 'reduction': reduction, 'value': value.item(), 'grad': z.grad.tolist()})
    return out


def main():
    path = Path(__file__).resolve().parent.parent / 'test' / 'fixtures' / 'losses-pml.json'
    cases = run()
    if '--check' in sys.argv:
        stored = {(c['loss'], c.get('form', ''), c['metric']): c for c in json.loads(path.read_text())['cases']}
        for c in cases:
            s = stored.get((c['loss'], c['form'], c['metric']))
            name = f"{c['loss']}/{c['form']}" if c['form'] else c['loss']
            if s is None:
                print(f"{name:>21} {c['metric']}  PML {c['value']:.12f}  not in the fixture (rerun without --check)")
                continue
            g = max(abs(a - b) for ra, rb in zip(c['grad'], s['grad']) for a, b in zip(ra, rb))
            print(f"{name:>21} {c['metric']}  PML {c['value']:.12f}  stored {s['value']:.12f}  max |grad diff| {g:.2e}")
        return
    doc = {
        'about': 'pytorch-metric-learning reference values for test/metric-losses.test.ts; made by bench/losses_reference.py',
        'versions': {'python': platform.python_version(), 'torch': torch.__version__, 'pytorch_metric_learning': pytorch_metric_learning.__version__},
        'z': Z.tolist(), 'labels': LABELS.tolist(), 'triplets': {'anchors': A.tolist(), 'positives': P.tolist(), 'negatives': N.tolist()},
        'cases': cases,
    }
    path.write_text(json.dumps(doc, indent=1) + '\n')
    print(f'wrote {path} ({len(cases)} cases)')


if __name__ == '__main__':
    main()

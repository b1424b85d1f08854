# The PyTorch side of `rankshield bench train --nproc N`: the same SPC-2
# triplet training as bench/train.py (c2f2, metric N, random miner, margin 0.2,
# Adam 1e-3 / 1e-7), data parallel with DistributedDataParallel over Gloo on
# loopback: N processes, each the contiguous 1/N of every global batch's pairs,
# gradients averaged by DDP. Rank 0 prints one JSON line: seconds for the timed batches.
import json, sys, time
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from c2f2_reference import C2F2
from fashion_reference import Spc2Batches, triplet_step

images_file, labels_file, threads, pairs, batches, nproc, port = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]



def worker(rank):
    torch.set_num_threads(threads)
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=nproc)
    torch.manual_seed(0)
    model = torch.nn.parallel.DistributedDataParallel(C2F2())
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-7)
    data = Spc2Batches(images_file, labels_file)
    lo, hi = rank * pairs // nproc, (rank + 1) * pairs // nproc
    dist.barrier()
    t0 = time.perf_counter()
    for b in range(batches):
        images, labels = data.batch(b, pairs)
        images, labels = images[2 * lo:2 * hi], labels[2 * lo:2 * hi]
        loss = triplet_step(model, opt, images, labels)
    dist.barrier()
    if rank == 0:
        print(json.dumps({"seconds": time.perf_counter() - t0, "batches": batches}), flush=True)
    dist.destroy_process_group()


if __name__ == '__main__':
    mp.spawn(worker, nprocs=nproc)

"""A meta-batch at once (torch.func.vmap) against a loop over its episodes.

skmtl runs the episodes of a meta-update through one ``vmap`` call where that is
right and faster (``skmtl.meta._algorithms.over_tasks``); this script measures the
choice it makes.  For each algorithm, backbone and meta-batch size it times
``meta_backward`` on the same stacked episodes both ways, interleaved in the same
process, best of ``--repeats``, and prints the ratio loop time / vmap time (above
1: vmap is faster) with the path skmtl takes there.  Backbones: an MLP
(64, 64) on 32 features, and conv4 on 28 x 28 images (Omniglot's size; random
pixels: the speed does not depend on them).  Episodes: 5-way 1-shot 5-query.

MAML and Meta-SGD on conv4 are not vmapped at all: vmap's second derivatives
through batch norm are wrong (pytorch/functorch#534; see the test
``test_a_meta_batch_at_once_equals_its_episodes_one_by_one``), so their vmap
column is left empty.

Usage::

    python benchmarks/bench_meta_batch.py                 # CPU, ~2 min
    python benchmarks/bench_meta_batch.py --device cuda   # on a GPU
"""

import os
import platform
import sys

import torch

from skmtl.meta import _algorithms as A
from skmtl.meta._backbones import conv4
from skmtl.nn._modules import mlp
from _common import Parser, Table, best_time, versions

ALGORITHMS = ["protonet", "maml", "fomaml", "reptile", "anil", "metasgd"]
N_WAY, K_SHOT, N_QUERY = 5, 1, 5
TABLE = Table(["backbone", "algorithm", "batch", "loop ms", "vmap ms", "loop/vmap",
               "skmtl takes"], widths=[8, 9, 5, 9, 9, 9, 0], align="<<>>>><",
              sep=[" "] * 5 + ["  "])


def make(name, net, width):
    if name == "protonet":
        return A.ProtoNet()
    if name == "reptile":
        return A.Reptile(net, width, 0.1, 5)
    return A.GradientBased(net, width, 0.4, 1, first_order=name == "fomaml",
                           head_only=name == "anil", learn_lr=name == "metasgd")


def episodes(shape, batch, device, seed=0):
    gen = torch.Generator().manual_seed(seed)
    xs = torch.rand(batch, N_WAY * K_SHOT, *shape, generator=gen)
    xq = torch.rand(batch, N_WAY * N_QUERY, *shape, generator=gen)
    ys = torch.arange(N_WAY).repeat_interleave(K_SHOT).repeat(batch, 1)
    yq = torch.arange(N_WAY).repeat_interleave(N_QUERY).repeat(batch, 1)
    return [t.to(device) for t in (xs, ys, xq, yq)]


def best_ms(fn, n, repeats, sync):
    return 1e3 * best_time(fn, repeats, number=n, sync=sync)[0]


def measure(backbone, name, batch, device, n, repeats):
    torch.manual_seed(0)
    net, shape = (mlp(32, (64, 64), "relu")[0], (32,)) if backbone == "mlp" else \
        (conv4(1), (1, 28, 28))
    net = net.to(device)
    width = net(torch.zeros((2,) + shape, device=device)).shape[1]
    algo = make(name, net, width).to(device)
    eps = episodes(shape, batch, device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    second = name in ("maml", "metasgd")
    skmtl_vmaps = batch > 1 and A.vmapped(net, device, second)
    saved = A.LOOP_ON_CPU, A.LOOP_SECOND_ORDER

    def run(vmapped):
        A.LOOP_ON_CPU, A.LOOP_SECOND_ORDER = ((), ()) if vmapped else \
            ((torch.nn.Module,), (torch.nn.Module,))
        return lambda: algo.meta_backward(net, *eps, N_WAY)

    try:
        can_vmap = not (backbone == "conv4" and second)
        run(False)()  # warm-up
        if can_vmap:
            run(True)()
        loop_ms = vmap_ms = None
        loop_ms = best_ms(run(False), n, repeats, sync)
        if can_vmap:
            vmap_ms = best_ms(run(True), n, repeats, sync)
    finally:
        A.LOOP_ON_CPU, A.LOOP_SECOND_ORDER = saved
    return loop_ms, vmap_ms, "vmap" if skmtl_vmaps else "loop"


def main(argv=None):
    parser = Parser(__doc__, "one repeat, few calls")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batches", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--backbones", nargs="+", default=["mlp", "conv4"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"{versions('torch', 'skmtl')}  {platform.machine()}  cpu_count={os.cpu_count()}  "
          f"threads={torch.get_num_threads()}  device={device}"
          f"{' (' + torch.cuda.get_device_name() + ')' if device.type == 'cuda' else ''}")
    print(f"meta_backward of a meta-batch of {N_WAY}-way {K_SHOT}-shot {N_QUERY}-query "
          "episodes: loop vs vmap, ms per meta-batch, best of "
          f"{1 if args.quick else args.repeats}")
    TABLE.print_head()
    rows = []
    for backbone in args.backbones:
        for batch in args.batches:
            for name in ALGORITHMS:
                n = 2 if args.quick else (20 if backbone == "mlp" else 3)
                loop_ms, vmap_ms, path = measure(backbone, name, batch, device, n,
                                                 1 if args.quick else args.repeats)
                ratio = loop_ms / vmap_ms if vmap_ms else None
                rows.append(dict(backbone=backbone, algorithm=name, batch=batch,
                                 loop_ms=loop_ms, vmap_ms=vmap_ms, ratio=ratio, path=path))
                TABLE.print_row([backbone, name, batch, f"{loop_ms:.2f}",
                                 f"{vmap_ms:.2f}" if vmap_ms else "-",
                                 f"{ratio:.2f}" if vmap_ms else "-", path])
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])

"""How many CPU threads a network's small operations get.

A mini-batch step of a small network is a few small matrix products; spread over
several threads it waits more on their synchronisation than it computes, and on a
machine whose cores are busy with other processes each step waits for every
thread to be scheduled: measured on a loaded 2-core machine, a step of a 256-256
MLP on 256 rows took 12 ms on one thread and 315 ms on two (a 64-wide MLP: 1.8 ms
against 61 ms).  So a fit or a prediction whose steps are below
:data:`FLOPS_PER_THREAD` runs on one CPU thread, and restores torch's setting
after; larger steps keep ``torch.get_num_threads()``.
"""

import contextlib

import torch

# Floating-point operations of one step (forward and backward: 6 x rows x
# parameters) below which one thread does the work.  Under load a second thread
# cost 35x at 1e6, 25x at 1e8, 6x at 2e9 and 1.8x at 3e10 (a 1024-1024 MLP on 4096
# rows): past 1e10 the threads' gain on an idle machine outweighs that risk.
FLOPS_PER_THREAD = 1e10


def step_flops(net, rows, passes=6):
    """``passes`` x ``rows`` x the parameters of ``net``: a step's arithmetic."""
    return passes * rows * sum(p.numel() for p in net.parameters())


@contextlib.contextmanager
def threads_for(device, flops):
    """One CPU thread inside the block when ``flops`` is small (see the module)."""
    if device.type != "cpu" or flops >= FLOPS_PER_THREAD or torch.get_num_threads() == 1:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)

"""Table printing and environment line shared by the quality benchmarks."""

import os
import platform
import sys

import numpy as np
import sklearn

import skmtl


def print_table(header, rows):
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = "  ".join(h.rjust(w) if i else h.ljust(w)
                     for i, (h, w) in enumerate(zip(header, widths)))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(c.rjust(w) if i else c.ljust(w)
                        for i, (c, w) in enumerate(zip(r, widths))))


def print_environment():
    print(f"python {sys.version.split()[0]} ({platform.platform()}), numpy "
          f"{np.__version__}, sklearn {sklearn.__version__}, skmtl "
          f"{getattr(skmtl, '__version__', '?')} ({os.path.dirname(skmtl.__file__)}), "
          f"cpu_count {os.cpu_count()}, load avg "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}\n")

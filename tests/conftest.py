"""Shared test set-up: one torch thread (2 shared cores), offline model hubs, bytecode cached."""

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# With PYTHONDONTWRITEBYTECODE set (as in this machine's environment), every process the tests
# start (servers, their fork servers and workers, the CLI) compiled the package from source
# again: about 0.3 s of CPU each, a third of a CLI start. The caches land in __pycache__/
# folders, which git ignores and the wheel leaves out.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False


def pytest_configure(config):
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass

"""``python benchmarks/gpu/no_tf32.py ARGS...`` = ``python -m colorbench ARGS...`` with TF32
off in cuBLAS matmuls and cuDNN convolutions, so fp32 on CUDA is IEEE fp32 as on the CPU
(torch's default leaves cuDNN convolutions in TF32). Autocast stays off unless ``--precision``
asks for it. No effect on the CPU."""

from __future__ import annotations

import sys

import torch

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False

if __name__ == "__main__":
    from colorbench.cli import main

    sys.argv[0] = "colorbench"
    main()

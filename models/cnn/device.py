"""Where and how the networks run: ``auto`` picks CUDA when present, else the CPU's cores."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    bf16: bool  # bf16 autocast; CUDA only (no gain on the CPUs this runs on)
    channels_last: bool

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.bf16:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def describe(self) -> str:
        if self.is_cuda:
            return f"cuda ({torch.cuda.get_device_name(self.device)})"
        return f"cpu ({torch.get_num_threads()} threads)"

    def synchronize(self) -> None:
        if self.is_cuda:
            torch.cuda.synchronize(self.device)


def resolve_runtime(device: str, threads: int, bf16: bool, channels_last: bool) -> Runtime:
    """Set up torch for ``device`` (auto, cpu or cuda). CPU runs are deterministic; CUDA runs use
    cuDNN's autotuner instead, since bitwise repeatability there costs speed."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("cnn.device is 'cuda' but torch sees no CUDA device")
    if device == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        return Runtime(torch.device("cuda"), bf16, channels_last)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    return Runtime(torch.device("cpu"), False, channels_last)


@contextlib.contextmanager
def eval_mode(net: torch.nn.Module) -> Iterator[None]:
    """Inference mode, restoring the network's training flag afterwards."""
    was_training = net.training
    net.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        net.train(was_training)

"""Where and how the networks run: ``auto`` picks CUDA when present, else the CPU's cores."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Runtime:
    """The device the networks run on and how (bf16 autocast, channels-last memory format)."""

    device: torch.device
    bf16: bool  # bf16 autocast; CUDA only (no gain on the CPUs this runs on)
    channels_last: bool

    @property
    def is_cuda(self) -> bool:
        """Whether the device is a CUDA GPU."""
        return self.device.type == "cuda"

    def autocast(self) -> contextlib.AbstractContextManager:
        """A CUDA bf16 ``torch.autocast`` context when ``bf16`` is set, else a no-op context."""
        if self.bf16:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def memory_format(self) -> torch.memory_format:
        """``torch.channels_last`` if ``channels_last`` is set, else ``torch.contiguous_format``."""
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def describe(self) -> str:
        """The device in words for logs and records, e.g. "cpu (2 threads)"."""
        if self.is_cuda:
            return f"cuda ({torch.cuda.get_device_name(self.device)})"
        return f"cpu ({torch.get_num_threads()} threads)"

    def synchronize(self) -> None:
        """Wait for queued CUDA work (for honest timings); no-op on the CPU."""
        if self.is_cuda:
            torch.cuda.synchronize(self.device)


def resolve_runtime(device: str, threads: int, bf16: bool, channels_last: bool) -> Runtime:
    """Set up torch for ``device`` (auto, cpu or cuda). CPU runs are deterministic; CUDA runs use
    cuDNN's autotuner instead, since bitwise repeatability there costs speed.

    Changes process-wide torch settings: on CUDA it enables ``cudnn.benchmark`` and TF32
    matmuls/convolutions; on the CPU it sets the thread count and
    ``torch.use_deterministic_algorithms(True)``.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}
        ``auto`` picks CUDA when torch sees a GPU, else the CPU. Any other string is treated
        as ``cpu``.
    threads : int
        CPU threads for torch (``torch.set_num_threads``); ignored on CUDA.
    bf16 : bool
        bf16 autocast; honoured on CUDA only.
    channels_last : bool
        Feed the networks channels-last tensors; honoured on CUDA only: on an AVX-512/AMX Xeon
        torch 2.13's CPU channels-last training corrupted the heap within two epochs of full
        FER2013 (README, The CNN), where contiguous format trained on.

    Returns
    -------
    Runtime
        The chosen device and settings.

    Raises
    ------
    RuntimeError
        If ``device`` is ``"cuda"`` but torch sees no CUDA device.
    """
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
    return Runtime(torch.device("cpu"), False, False)


@contextlib.contextmanager
def eval_mode(net: torch.nn.Module) -> Iterator[None]:
    """Inference mode, restoring the network's training flag afterwards.

    Parameters
    ----------
    net : torch.nn.Module
        Put in eval mode (dropout off, batch-norm running statistics) for the block, inside
        ``torch.inference_mode``.
    """
    was_training = net.training
    net.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        net.train(was_training)

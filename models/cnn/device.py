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
    bf16: bool  # bf16 autocast (on the CPU only where oneDNN has native bf16)
    channels_last: bool

    @property
    def is_cuda(self) -> bool:
        """Whether the device is a CUDA GPU."""
        return self.device.type == "cuda"

    def autocast(self) -> contextlib.AbstractContextManager:
        """A bf16 ``torch.autocast`` context on the device when ``bf16`` is set, else a no-op."""
        if self.bf16:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def inference_autocast(self) -> contextlib.AbstractContextManager:
        """The autocast context for scoring: as :meth:`autocast` on CUDA, a no-op on the CPU.

        On the CPU bf16 only trains (the float32 weights it updates are what gets saved); every
        score is computed in float32, so the stage's test predictions are the ones ``ferbench
        predict`` makes from the saved model on any CPU, with or without native bf16.
        """
        return self.autocast() if self.is_cuda else contextlib.nullcontext()

    def memory_format(self) -> torch.memory_format:
        """``torch.channels_last`` if ``channels_last`` is set, else ``torch.contiguous_format``."""
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def describe(self) -> str:
        """The device in words for logs and records, e.g. "cpu (2 threads)"."""
        precision = ", bf16 autocast" if self.bf16 else ""
        if self.is_cuda:
            return f"cuda ({torch.cuda.get_device_name(self.device)}{precision})"
        return f"cpu ({torch.get_num_threads()} threads{precision})"

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
        bf16 autocast in training (weights and optimiser stay float32). On the CPU honoured
        only where oneDNN runs bf16 natively (AVX512-BF16 or AMX: :func:`cpu_has_native_bf16`),
        where it trains the default CNN faster (README, The CNN); elsewhere bf16 is emulated
        and slower, so the CPU trains in float32.
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
    return Runtime(torch.device("cpu"), bf16 and cpu_has_native_bf16(), False)


def cpu_has_native_bf16() -> bool:
    """Whether oneDNN runs bf16 natively on this CPU (AVX512-BF16 or AMX), not emulated."""
    mkldnn = torch.backends.mkldnn
    return bool(mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


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

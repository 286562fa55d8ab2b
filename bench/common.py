"""What every bench script prints about the machine it ran on, and the device sync its timers use."""

from __future__ import annotations

import os
import platform

import torch


def machine() -> str:
    """CPU model, logical CPUs, torch threads, OS; and the GPU when there is one."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = f"; GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    return (f"{cpu}; {os.cpu_count()} logical CPUs; torch threads {torch.get_num_threads()}; "
            f"{platform.system()} {platform.release()}{gpu}")


def sync(device: torch.device) -> None:
    """Wait for the device's queued work, so that a timer around it measures the work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)

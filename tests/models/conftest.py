import pytest
import torch


@pytest.fixture
def clips():
    """Two small clips: 8 frames of 64x64 and MFCC (13, 212), fixed seed."""
    g = torch.Generator().manual_seed(0)
    video = torch.randn(2, 3, 8, 64, 64, generator=g)
    audio = torch.randn(2, 13, 212, generator=g)
    target = torch.tensor([1, 5])
    return video, audio, target

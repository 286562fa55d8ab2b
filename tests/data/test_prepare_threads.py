"""An in-process prepare (workers=1) runs single-threaded as a pool worker does, and gives the
caller back its thread pools: a `train` after it in the same process is not held to one thread.
On the 3 real CREMA-D clips (ODbL / DbCL, see shared/data/crema-d/README.md)."""

import cv2
import torch

from avemotion.config import PreprocessConfig


def test_in_process_prepare_restores_the_callers_thread_pools(crema_dir, tmp_path, monkeypatch):
    from avemotion.data import prepare as prepare_module

    seen = []
    real = prepare_module.prepare_one

    def spy(*args):
        seen.append((torch.get_num_threads(), cv2.getNumThreads()))
        return real(*args)

    monkeypatch.setattr(prepare_module, "prepare_one", spy)
    torch.set_num_threads(2)
    cv2.setNumThreads(2)
    cfg = PreprocessConfig(num_frames=4, frame_size=32, short_clip="pad")
    report = prepare_module.prepare(crema_dir, tmp_path, cfg, workers=1)
    assert report.cached == 3 and len(seen) == 3
    assert all(s == (1, 1) for s in seen)  # single-threaded while preparing, as a pool worker
    assert (torch.get_num_threads(), cv2.getNumThreads()) == (2, 2)

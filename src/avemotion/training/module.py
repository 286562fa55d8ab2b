"""LightningModule over any AVModel: it only calls `model.loss(video, audio, target, label_smoothing=...)`;
training settings reach the model as arguments, never as attributes set on it.

Batches arrive with uint8 video (4x less to move to the device); normalisation runs on the device,
the same function inference uses.
"""

from __future__ import annotations

import lightning as L
import torch
from torchmetrics.classification import MulticlassAccuracy, MulticlassRecall

from avemotion.data.transforms import crop_batch, normalize_video
from avemotion.errors import ConfigError
from avemotion.models.registry import uses_video


class AVLightningModule(L.LightningModule):
    def __init__(self, model: torch.nn.Module, *, lr: float = 1e-3, weight_decay: float = 0.0, num_classes: int = 8,
                 channels_last: bool = False, compile: bool = False, label_smoothing: float = 0.0,
                 lr_schedule: str = "constant"):
        super().__init__()
        self.lr_schedule = lr_schedule
        self.label_smoothing = label_smoothing  # passed to every model.loss call
        # channels_last_3d lets cuDNN pick its fastest 3D-convolution kernels under bf16.
        self.memory_format = torch.channels_last_3d if channels_last else torch.contiguous_format
        self.model = model.to(memory_format=self.memory_format)
        if compile:
            # In place (nn.Module.compile): torch.compile(model) would wrap it and rename every
            # state-dict key to _orig_mod.*, which checkpoints and resumes must not see. Compiles
            # `forward`, which `loss` calls (the multiplicative fusion's own loss does not).
            self.model.compile()
        self.lr = lr
        self.weight_decay = weight_decay
        self._epoch_loss = 0  # the training loss summed over the epoch (on_train_epoch_end checks it)
        # Metric objects sync their states across processes (DDP) before computing.
        self.train_acc = MulticlassAccuracy(num_classes, average="micro")
        self.val_acc = MulticlassAccuracy(num_classes, average="micro")
        self.val_uar = MulticlassRecall(num_classes, average="macro")

    def on_fit_start(self) -> None:
        # A model that reads no video (the 34k-parameter audio CNN) is made of operations far too
        # small to split across threads: on 2 CPU cores, 2 intra-op threads made its step 9x
        # slower than 1 when the other core was busy (bench/bench_audio_train.py).
        self._threads = torch.get_num_threads()
        if self.device.type == "cpu" and not uses_video(self.model):
            torch.set_num_threads(1)

    def on_fit_end(self) -> None:
        torch.set_num_threads(getattr(self, "_threads", torch.get_num_threads()))

    def forward(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        return self.model(self._video(video), audio)

    def transfer_batch_to_device(self, batch, device, dataloader_idx):
        # Crop boxes stay on the host: crop_batch reads them as Python ints, and reading them back
        # from the GPU would stall every step until the device caught up.
        if not (isinstance(batch, dict) and "crop" in batch):
            return super().transfer_batch_to_device(batch, device, dataloader_idx)
        rest = {k: v for k, v in batch.items() if k != "crop"}
        return {**super().transfer_batch_to_device(rest, device, dataloader_idx), "crop": batch["crop"]}

    def _video(self, video: torch.Tensor) -> torch.Tensor:
        return normalize_video(video).contiguous(memory_format=self.memory_format)

    def _step(self, batch):
        video = batch["video"]
        if "crop" in batch:  # the loader deferred the clip-level crop/flip to this device
            video = crop_batch(video, batch["crop"])
        video = self._video(video)
        return self.model.loss(video, batch["audio"], batch["label"], label_smoothing=self.label_smoothing)

    def training_step(self, batch, batch_idx):
        loss, logits = self._step(batch)
        self._epoch_loss = self._epoch_loss + loss.detach()  # summed on the device: no sync per step
        self.train_acc(logits.argmax(1), batch["label"])
        n = batch["label"].shape[0]
        self.log("train_loss", loss, on_step=False, on_epoch=True, sync_dist=True, batch_size=n)
        self.log("train_acc", self.train_acc, on_step=False, on_epoch=True, batch_size=n)
        return loss

    def on_train_epoch_end(self):
        # checked once per epoch on the logged mean (a check per step would sync the GPU every step):
        # every later epoch would be NaN too, and no epoch could be selected
        loss, self._epoch_loss = self._epoch_loss, 0
        if isinstance(loss, torch.Tensor) and not torch.isfinite(loss):
            raise ConfigError(f"{self.model.avemotion_name}: training diverged: the training loss of epoch "
                              f"{self.current_epoch} is {loss.item()} (try a lower --lr); finished stages are kept")

    def validation_step(self, batch, batch_idx):
        loss, logits = self._step(batch)
        pred = logits.argmax(1)
        self.val_acc(pred, batch["label"])
        self.val_uar(pred, batch["label"])
        n = batch["label"].shape[0]
        self.log("val_loss", loss, on_epoch=True, sync_dist=True, batch_size=n)
        self.log("val_acc", self.val_acc, on_epoch=True, batch_size=n)
        self.log("val_uar", self.val_uar, on_epoch=True, batch_size=n)

    def configure_optimizers(self):
        # The published recipe: Adam with a constant learning rate.
        opt = torch.optim.Adam(self.model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        if self.lr_schedule == "constant":
            return opt
        # cosine: from lr to 0 over the stage's epochs, stepped once per epoch
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, self.trainer.max_epochs))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}

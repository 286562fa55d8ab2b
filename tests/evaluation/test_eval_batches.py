"""Issue 22, defect 1: evaluation batches. A prediction depends on its batch mates only under
CFN-SR's published attention ("batch_sum"); such a model is scored in batches drawn as the
published shuffled loader drew them, never in sorted clip-id order (one emotion per batch on RAVDESS)."""

from __future__ import annotations

import pytest
import torch

from avemotion.evaluation.scoring import eval_clip_order, pools_over_batch
from avemotion.models import create_model, list_models, model_info

BATCH = 16


def inputs(name: str, n: int, seed: int) -> tuple:
    """(video, audio) of n clips as the model's input contract asks (None for a modality it does not read)."""
    contract = model_info(name).input
    g = torch.Generator().manual_seed(seed)
    video = audio = None
    if "video" in contract.modalities:
        video = torch.randn(n, 3, contract.frames or 8, contract.frame_size or 48, contract.frame_size or 48, generator=g)
    if contract.mfcc_shape is not None:
        audio = torch.randn(n, *contract.mfcc_shape, generator=g)
    return video, audio


def alone_and_in_a_batch(model, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits of clip 0 alone, and of the same clip inside a batch of 5 other clips."""
    video, audio = inputs(name, 6, seed=0)
    with torch.no_grad():
        alone = model(*(x[:1] if x is not None else None for x in (video, audio)))
        batch = model(video, audio)[:1]
    return alone, batch


@pytest.mark.parametrize("name", list_models())
def test_no_prediction_depends_on_its_batch_mates(name):
    model = create_model(name, scale="tiny").eval()
    if pools_over_batch(model):  # only a model configured with batch_sum may (none by default)
        pytest.skip("batch-pooled attention")
    alone, batch = alone_and_in_a_batch(model, name)
    torch.testing.assert_close(alone, batch, rtol=1e-4, atol=1e-5)


def test_batch_sum_attention_does_depend_on_its_batch_mates():
    """The check above can see a dependence: the published attention fails it."""
    model = create_model("cfn_sr", scale="tiny", attention="batch_sum").eval()
    assert pools_over_batch(model)
    alone, batch = alone_and_in_a_batch(model, "cfn_sr")
    assert not torch.allclose(alone, batch, rtol=1e-4, atol=1e-5)


def ravdess_test_fold(actors=(1, 2, 3, 4)) -> list[str]:
    """Clip ids of a real-size RAVDESS speech test fold: 60 clips per actor, sorted as a cache lists them."""
    ids = []
    for actor in actors:
        for emotion in range(1, 9):
            for intensity in ((1,) if emotion == 1 else (1, 2)):
                ids += [f"03-01-{emotion:02d}-{intensity:02d}-{s:02d}-{r:02d}-{actor:02d}" for s in (1, 2) for r in (1, 2)]
    return sorted(ids)


def emotions_per_batch(ids: list[str]) -> list[int]:
    return [len({c.split("-")[2] for c in ids[i:i + BATCH]}) for i in range(0, len(ids), BATCH)]


def test_batch_sum_scores_in_shuffled_batches_that_mix_emotions():
    ids = ravdess_test_fold()
    assert set(emotions_per_batch(ids)) == {1}  # sorted ids: every batch holds one emotion
    pooled = create_model("cfn_sr", scale="tiny", attention="batch_sum")
    order = eval_clip_order(pooled, ids, seed=0)
    assert sorted(order) == ids  # every clip once
    mixed = emotions_per_batch(order)
    assert min(mixed) > 1 and sum(mixed) / len(mixed) > 4  # ~7 of 8 emotions per batch when shuffled
    assert eval_clip_order(pooled, ids, seed=0) == order  # reproducible for a seed
    assert eval_clip_order(pooled, ids, seed=1) != order
    plain = create_model("cfn_sr", scale="tiny")
    assert eval_clip_order(plain, ids, seed=0) == ids  # any other model: the given order, as before

from pathlib import Path

import pytest

CREMA = Path("/work/shared/data/crema-d")


@pytest.fixture(scope="session")
def crema_clips():
    clips = sorted(CREMA.glob("*.flv"))
    assert len(clips) == 3, f"expected the 3 CREMA-D clips in {CREMA}"
    return clips

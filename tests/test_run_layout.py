"""RunLayout: the one owner of a run folder (where each stage lives, the unimodal precedence, and
every run file as a typed record with one writer and one reader)."""

import dataclasses
import re
from pathlib import Path

import pytest

import avemotion
from avemotion.errors import ConfigError
from avemotion.run_layout import (
    REFIT,
    RunLayout,
    RunRecord,
    StageResult,
    StageStart,
    base_stage,
    is_refit,
    read_run_folder,
    scored_stage,
)


def _record(**values) -> RunRecord:
    return RunRecord.from_dict(values)


def _stage(root, fold, stage):
    path = root / f"fold_{fold}" / stage
    path.mkdir(parents=True)
    (path / "best.json").write_text("{}")
    return path


def test_unimodal_stages_live_in_the_unimodal_root_fusion_stages_in_the_run(tmp_path):
    layout = RunLayout.for_training(tmp_path / "run", tmp_path / "uni")
    assert layout.stage_dir(2, "audio") == tmp_path / "uni" / "fold_2" / "audio"
    assert layout.stage_dir(2, "video" + REFIT) == tmp_path / "uni" / "fold_2" / "video-refit"
    assert layout.stage_dir(2, "cfn_sr") == tmp_path / "run" / "fold_2" / "cfn_sr"
    assert layout.best(0, "cfn_sr" + REFIT) == tmp_path / "run" / "fold_0" / "cfn_sr-refit" / "best"
    assert layout.manifest(3) == tmp_path / "run" / "folds" / "fold_3.json"
    assert layout.recorded_unimodal_dir() == "../uni"


def test_the_runs_own_unimodal_stages_win_over_the_recorded_folder(tmp_path):
    run, elsewhere = tmp_path / "run", tmp_path / "elsewhere"
    run.mkdir()
    _stage(elsewhere, 0, "audio")
    assert RunLayout.read(run, _record(unimodal_dir="../elsewhere")).unimodal_root == run / "../elsewhere"
    _stage(run, 0, "audio-refit")
    assert RunLayout.read(run, _record(unimodal_dir="../elsewhere")).unimodal_root == run


def test_a_recorded_folder_that_no_longer_exists_falls_back_to_the_run(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    assert RunLayout.read(run, _record(unimodal_dir=str(tmp_path / "gone"))).unimodal_root == run
    assert RunLayout.read(run, _record()).unimodal_root == run


def test_inside_tells_the_run_folder_from_the_rest(tmp_path):
    layout = RunLayout.for_training(tmp_path / "run", tmp_path / "uni")
    assert layout.inside(tmp_path / "run" / "fold_0" / "cfn_sr")
    assert not layout.inside(layout.stage_dir(0, "audio"))
    assert not layout.inside(tmp_path / "run" / ".." / "uni")


def test_stage_names():
    assert base_stage("audio-refit") == "audio" and is_refit("audio-refit") and not is_refit("audio")
    assert scored_stage("cfn_sr", refit=True) == "cfn_sr-refit" and scored_stage("cfn_sr", refit=False) == "cfn_sr"


def test_records_come_back_as_written(tmp_path):
    layout = RunLayout.for_training(tmp_path / "run")
    run = RunRecord(training={"lr": 0.001}, preprocess_hash="p", folds=({"test": [1], "val": [], "train": [2]},),
                    models=("cfn_sr",), refit=True, labels=("a", "b"), speakers={"1": "Anna"}, dataset="manifest",
                    content_keys=("k1",), seed=3)
    layout.write_run(run)
    assert layout.read_run() == run
    result = StageResult(fold=0, stage="cfn_sr", settings_hash="h", metrics={"accuracy": 0.5},
                         predictions=({"clip_id": "c", "label": 0, "pred": 1},), labels=("a", "b"),
                         test_actors=(1,), train_actors=(2,), eval_batches={"test": ["c"]})
    layout.write_result(result)
    assert layout.read_result(0, "cfn_sr") == result
    start = StageStart("h", {"epochs": 3}, "clips")
    layout.write_start(0, "audio", start)
    assert layout.read_start(0, "audio") == start and layout.read_start(1, "audio") is None


def test_a_run_written_before_a_field_existed_reads_it_as_its_default(tmp_path):
    (tmp_path / "run.json").write_text('{"models": ["audio"], "training": {}, "preprocess_hash": "p", "folds": []}')
    layout, run = read_run_folder(tmp_path)
    assert run.models == ("audio",) and run.labels is None and run.dataset is None and not run.refit
    assert run.class_names == avemotion.EMOTIONS  # RAVDESS's 8 when none were recorded
    assert layout.unimodal_root == tmp_path


def test_a_folder_without_run_json_is_refused_naming_it(tmp_path):
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path}: not a run folder")):
        read_run_folder(tmp_path)


def test_optional_results_are_written_only_when_set(tmp_path):
    layout = RunLayout.for_training(tmp_path)
    layout.write_result(StageResult(fold=1, stage="audio", settings_hash="h", metrics={}, predictions=()))
    written = (tmp_path / "fold_1" / "audio" / "metrics.json").read_text()
    assert all(f'"{key}"' not in written for key in StageResult.OPTIONAL)
    assert layout.read_result(1, "audio").rescored is False


def test_checkpoints_lists_the_stages_of_both_folders_and_nothing_half_written(tmp_path):
    import torch

    from avemotion.config import PreprocessConfig
    from avemotion.models import create_model
    from avemotion.models.checkpoint import save_checkpoint

    layout = RunLayout.for_training(tmp_path / "run", tmp_path / "uni")
    for fold, stage in ((0, "cfn_sr"), (1, "cfn_sr"), (0, "audio")):
        torch.manual_seed(0)
        save_checkpoint(create_model(base_stage(stage), scale="tiny"), layout.best(fold, stage), preprocess=PreprocessConfig())
    layout.stage_dir(2, "cfn_sr").mkdir(parents=True)  # a stage still training: no checkpoint yet
    assert layout.checkpoints() == [(0, "audio"), (0, "cfn_sr"), (1, "cfn_sr")]
    assert layout.fold_indices() == [0, 1, 2]


def test_records_are_frozen():
    run = _record(models=["a"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.models = ("b",)


# The files a run folder holds are spelled in run_layout alone (and a checkpoint's two files in
# models/checkpoint.py, a voice run's in its own two modules): a reader or writer elsewhere that
# builds one of these paths by hand would go around the records.
RUN_FILES = ("run.json", "metrics.json", "stage.json", "best.json", "last.ckpt")
OWNERS = {"run_layout.py", "models/checkpoint.py", "training/voice_run.py", "training/voice_protocol.py"}


def test_no_module_but_the_layout_spells_a_run_file():
    src = Path(avemotion.__file__).parent
    found = []
    for path in sorted(src.rglob("*.py")):
        if str(path.relative_to(src)) in OWNERS:
            continue
        code = path.read_text()
        literals = set(re.findall(r"\"([^\"\n]*)\"", code)) | set(re.findall(r"'([^'\n]*)'", code))
        found += [f"{path.relative_to(src)}: {name!r}" for name in RUN_FILES if name in literals]
        found += [f"{path.relative_to(src)}: {lit!r}" for lit in literals if re.match(r"fold_\{\w+\}(/|$)", lit)]
    assert not found

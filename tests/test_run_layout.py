"""RunLayout: the one decoder of a run folder (where each stage lives, the unimodal precedence)."""

from avemotion.run_layout import REFIT, RunLayout, base_stage, is_refit, scored_stage


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
    assert RunLayout.read(run, {"unimodal_dir": "../elsewhere"}).unimodal_root == run / "../elsewhere"
    _stage(run, 0, "audio-refit")
    assert RunLayout.read(run, {"unimodal_dir": "../elsewhere"}).unimodal_root == run


def test_a_recorded_folder_that_no_longer_exists_falls_back_to_the_run(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    assert RunLayout.read(run, {"unimodal_dir": str(tmp_path / "gone")}).unimodal_root == run
    assert RunLayout.read(run, {}).unimodal_root == run


def test_inside_tells_the_run_folder_from_the_rest(tmp_path):
    layout = RunLayout.for_training(tmp_path / "run", tmp_path / "uni")
    assert layout.inside(tmp_path / "run" / "fold_0" / "cfn_sr")
    assert not layout.inside(layout.stage_dir(0, "audio"))
    assert not layout.inside(tmp_path / "run" / ".." / "uni")


def test_stage_names():
    assert base_stage("audio-refit") == "audio" and is_refit("audio-refit") and not is_refit("audio")
    assert scored_stage("cfn_sr", refit=True) == "cfn_sr-refit" and scored_stage("cfn_sr", refit=False) == "cfn_sr"

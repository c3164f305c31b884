"""synthgen fit's pieces: the search space, moment matching, the gap and the cross-entropy search."""

from __future__ import annotations

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from synthgen.core.errors import ConfigError
from synthgen.fit.gap import MISSING_PENALTY, statistic_scales, statistics_gap
from synthgen.fit.moments import match_moments
from synthgen.fit.search import cross_entropy_search
from synthgen.fit.space import KNOBS, SearchSpace
from synthgen.paths import conf_dir


def _scene(name: str, *overrides: str) -> dict:
    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        cfg = compose("generate", [f"scene={name}", *overrides])
    return OmegaConf.to_container(cfg.scene, resolve=True)


def _generator(*overrides: str) -> dict:
    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        cfg = compose("generate", ["generator=paste", "generator.dataset=DATA", *overrides])
    return OmegaConf.to_container(cfg.generator, resolve=True)


def test_copy_paste_ranges_are_knobs_of_the_generator():
    scene = _scene("tabletop_fruits")
    names = [*KNOBS, "background_kinds"]
    assert "'auto', not a plain range" in SearchSpace(scene, names, _generator()).skipped["paste_objects"]
    pasting = SearchSpace(scene, names, _generator("generator.objects=[1,4]"))
    # Nothing is rendered: only the generator's ranges are searched.
    assert pasting.names() == ["paste_objects", "paste_scale", "paste_rotation", "paste_max_occlusion"]
    assert "nothing is rendered" in pasting.skipped["camera_distance"]
    values = pasting.current()
    assert values["paste_objects"] == [1, 4] and pasting.decode(pasting.encode(values)) == values
    moved = {**values, "paste_objects": [6, 12], "paste_max_occlusion": 0.3}
    assert pasting.changes(moved, "generator") == {"objects": [6, 12], "scale": [0.7, 1.3], "rotation": [-30.0, 30.0],
                                                   "max_occlusion": 0.3}
    assert pasting.changes(moved) == {}
    hybrid = SearchSpace(scene, names, _generator("generator.render_objects=true"))
    assert {"camera_distance", "paste_scale"} <= set(hybrid.names())
    plain = SearchSpace(scene, names, None)
    assert "no generator=paste" in plain.skipped["paste_scale"] and "camera_distance" in plain.names()
    # Moment matching: pasted boxes twice the real size halve the scale factor.
    stats = {"size": np.array([0.2, 0.2]), "objects_per_image": np.array([2.0, 2.0]), "brightness": np.array([0.5]),
             "center_x": np.array([0.5]), "center_y": np.array([0.5])}
    real = {**stats, "size": np.array([0.1, 0.1]), "objects_per_image": np.array([8.0, 8.0])}
    matched = match_moments(values, stats, real)
    assert matched["paste_scale"] == pytest.approx([0.35, 0.65]) and matched["paste_objects"] == [10.0, 10.0]


def test_space_round_trips_the_scene_and_skips_what_it_lacks():
    scene = _scene("tabletop_fruits")
    space = SearchSpace(scene, [*KNOBS, "background_kinds"])
    assert "background_kinds" in space.skipped  # the fruit scene's background is its cloth
    values = space.current()
    assert space.decode(space.encode(values)) == values
    assert values["camera_distance"] == [0.19, 0.27] and values["count"] == [6, 14]
    changes = space.changes({**values, "object_scale": 2.0, "count": [2, 3]})
    assert changes["placement"]["count"] == [2, 3]
    assert [c["scale"] for c in changes["categories"]] == [[1.7, 2.3], [1.7, 2.3], [1.8, 2.2]]


def test_space_keeps_ranges_ordered_and_within_bounds():
    space = SearchSpace(_scene("tabletop"), ["count", "camera_distance", "background_kinds"])
    for vector in np.random.default_rng(0).random((50, space.size)):
        values = space.decode(vector)
        assert values["count"][0] <= values["count"][1] and all(isinstance(c, int) for c in values["count"])
        assert 0.5 / 8 - 1e-9 <= values["camera_distance"][0] <= values["camera_distance"][1] <= 0.8 * 8 + 1e-9
        assert values["background_kinds"] and set(values["background_kinds"]) <= {"color", "procedural"}


def test_space_errors_and_focal_length():
    with pytest.raises(ConfigError, match="fit.parameters: unknown parameter 'zoom'"):
        SearchSpace(_scene("tabletop"), ["zoom"])
    space = SearchSpace(_scene("tabletop", "scene.camera.focal_length_mm=[24,50]"), ["camera_fov", "count"])
    assert "focal_length_mm" in space.skipped["camera_fov"] and space.names() == ["count"]


def _stats(size: float, count: float, brightness: float, rng) -> dict:
    sizes = size * np.exp(0.1 * rng.standard_normal(400))
    return {"objects_per_image": np.full(40, count), "size": sizes, "aspect": np.zeros(400),
            "center_x": 0.5 + 0.1 * rng.standard_normal(400), "center_y": 0.5 + 0.1 * rng.standard_normal(400),
            "occlusion": np.zeros(0), "brightness": np.full(40, brightness), "contrast": np.full(40, 0.2),
            "colourfulness": np.full(40, 0.1)}


def test_moment_matching_moves_distance_count_and_light():
    rng = np.random.default_rng(1)
    real, synthetic = _stats(0.2, 9, 0.6, rng), _stats(0.1, 3, 0.3, rng)
    values = {"count": [2, 4], "camera_distance": [0.4, 0.6], "light_intensity": [1.0, 2.0], "ambient": [0.2, 0.3]}
    new = match_moments(values, synthetic, real)
    # boxes half the real size -> camera twice as close; the count waits (losses change with the distance)
    assert np.allclose(new["camera_distance"], [0.2, 0.3], rtol=0.05) and new["count"] == [2, 4]
    assert np.allclose(new["light_intensity"], np.array([1.0, 2.0]) * 2 ** 2.2)
    # sizes close: 3 of 3 drawn objects kept -> draw 9 on average
    close = match_moments(values, {**synthetic, "size": real["size"]}, real)
    assert np.mean(close["count"]) == pytest.approx(9, rel=1e-6)


def test_gap_is_zero_for_the_same_statistics_and_penalises_missing_ones():
    rng = np.random.default_rng(2)
    real = _stats(0.2, 9, 0.6, rng)
    scales = statistic_scales(real)
    assert "occlusion" not in scales  # the real set lacks it: not compared
    same = statistics_gap(real, real, scales, 0.5)
    assert same["objective"] == 0 and same["label_wasserstein_sum"] == 0
    empty = {**real, "size": np.zeros(0)}
    gap = statistics_gap(empty, real, scales, 0.5)
    assert gap["statistics"]["size"]["normalised"] == MISSING_PENALTY and gap["label_wasserstein_sum"] is None
    far = statistics_gap(_stats(0.4, 9, 0.6, rng), real, scales, 0.5)
    assert far["statistics"]["size"]["wasserstein"] == pytest.approx(0.2, rel=0.1)


def test_cross_entropy_search_finds_a_minimum_and_never_returns_worse_than_its_start():
    target = np.array([0.8, 0.2, 0.6])

    def score(candidates):
        return [float(np.sum((c - target) ** 2)) for c in candidates]

    start = np.full(3, 0.4)
    result = cross_entropy_search(score, start, score([start])[0], np.random.default_rng(0), rounds=12,
                                  population=12, elite=4, initial_std=0.2)
    assert np.allclose(result.best, target, atol=0.06)
    assert len(result.rounds) == 12 and len(result.rounds[0]["scores"]) == 12
    stuck = cross_entropy_search(lambda cs: [1.0] * len(cs), start, 0.5, np.random.default_rng(0), 2, 4, 2, 0.1)
    assert np.array_equal(stuck.best, start) and stuck.best_score == 0.5

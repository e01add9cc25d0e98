"""Dataset names, paths and prompt formatting (the contract other stages rely on)."""

from pathlib import Path

import pytest

from gendiv.config import validate
from gendiv.layout import (
    DatasetName,
    card_path,
    dataset_names,
    dataset_path,
    generation_report_path,
    mixed_names,
    parse_dataset,
    real_test_path,
    to_prompt_completion,
)
from gendiv.report.results import expansion_of, fixed_ratio_of, level_of, subset_of


def test_names_follow_params_in_fixed_order(raw_params, repo):
    raw_params["levels"] = [0, 3, 6]
    raw_params["mixing"].update(
        tasks=["qa"],
        generated_level=6,
        fixed_ratios=[0.0, 0.5],
        expand_levels=[3],
        expand_ratios=[0.25],
        subset_sizes=[10],
    )
    p = validate(raw_params, root=repo)
    assert dataset_names(p, "qa") == [
        "real",
        "d0",
        "d3",
        "d6",
        "fixed_r0.0",
        "fixed_r0.5",
        "expand_real",
        "expand_d3_r0.25",
        "real_n10",
        "d0_n10",
        "d3_n10",
        "d6_n10",
    ]
    assert dataset_names(p, "qa")[4:] == mixed_names(p, "qa")
    # mixing.tasks without story: its mixing and expansion grids are off, the subsets stay
    assert dataset_names(p, "story") == ["real", "d0", "d3", "d6", "real_n10", "d0_n10", "d3_n10", "d6_n10"]


def test_paths_by_kind():
    assert dataset_path("story", "real") == Path("data/real/story/train.jsonl")
    assert dataset_path("qa", "d4") == Path("data/generated/qa/d4/train.jsonl")
    assert dataset_path("qa", "fixed_r0.25") == Path("data/mixed/qa/fixed_r0.25/train.jsonl")
    assert dataset_path("story", "expand_d1_r0.8") == Path("data/mixed/story/expand_d1_r0.8/train.jsonl")
    assert dataset_path("story", "d2_n50") == Path("data/mixed/story/d2_n50/train.jsonl")
    assert dataset_path("story", "src_gemma3") == Path("data/sources/story/single/gemma3/train.jsonl")
    assert dataset_path("story", "src_multi") == Path("data/sources/story/multi/train.jsonl")


def test_every_set_folder_holds_its_card_and_its_generation_report_sits_beside_it():
    assert card_path("qa", "real") == Path("data/real/qa/README.md")
    assert card_path("story", "d3") == Path("data/generated/story/d3/README.md")
    assert real_test_path("qa") == Path("data/real/qa/test.jsonl")
    assert generation_report_path("story", "d3") == Path("data/generated/story/d3.report.json")
    assert generation_report_path("story", "src_gemma3") == Path("data/sources/story/single/gemma3.report.json")
    assert generation_report_path("story", "src_multi") == Path("data/sources/story/multi.report.json")


@pytest.mark.parametrize(
    "name,parsed",
    [
        ("real", DatasetName("real")),
        ("d12", DatasetName("generated", level=12)),
        ("fixed_r0.25", DatasetName("fixed", ratio="0.25")),
        ("expand_real", DatasetName("expand_real")),
        ("expand_d3_r0.5", DatasetName("expand", level=3, ratio="0.5")),
        ("real_n100", DatasetName("subset", source="real", size=100)),
        ("d3_n7", DatasetName("subset", source="d3", size=7)),
        ("src_multi", DatasetName("source", generator="multi")),
        ("src_gemma3", DatasetName("source", generator="gemma3")),
        ("real_test", None),
        ("d3_n", None),
        ("src_Gemma", None),
    ],
)
def test_one_parser_reads_every_name(name, parsed):
    assert parse_dataset(name) == parsed


def test_name_readers_agree_with_the_parser():
    assert [level_of(n) for n in ("d3", "d3_n5", "real")] == [3, None, None]
    assert [fixed_ratio_of(n) for n in ("fixed_r0.5", "expand_d1_r0.5")] == [0.5, None]
    assert [subset_of(n) for n in ("d2_n50", "real_n9", "d2")] == [("d2", 50), ("real", 9), None]
    assert [expansion_of(n) for n in ("expand_d1_r0.8", "expand_real")] == [(1, 0.8), None]


@pytest.mark.parametrize(
    "task,name",
    [
        ("story", "fixed"),
        ("story", "../real"),
        ("poem", "real"),
        ("qa", "d"),
        ("qa", "expand_d1"),
        ("qa", "src_gemma3"),
        ("story", "src_Gemma"),
    ],
)
def test_bad_names_are_rejected(task, name):
    with pytest.raises(ValueError, match="task|dataset"):
        dataset_path(task, name)


def test_prompt_completion_formats():
    story = to_prompt_completion("story", {"context": "A. B. C. D.", "completion": "E."})
    assert story == {"prompt": "A. B. C. D.", "completion": " E."}
    qa = to_prompt_completion("qa", {"context": "Some plot.", "question": "Who?", "answer": "Ann"})
    assert qa == {"prompt": "Context: Some plot.\nQuestion: Who?\nAnswer:", "completion": " Ann"}

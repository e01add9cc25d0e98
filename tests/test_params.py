"""params.yaml validation: every bad value fails before a stage writes, naming the key."""

import subprocess
import sys

import pytest
import yaml

from gendiv.params import ParamsError, load_params, validate


def _set(raw: dict, dotted: str, value) -> dict:
    node = raw
    *parents, last = dotted.split(".")
    for part in parents:
        node = node[part]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return raw


_DELETE = object()

# (dotted key, bad value, text the error must contain)
BAD = [
    ("seed", -1, "seed"),
    ("seed", "zero", "seed"),
    ("levels", [0, 0, 1], "levels"),
    ("levels", [0, 7], "levels"),
    ("data.source", "internet", "data.source"),
    ("data.story.n_train", 0, "data.story.n_train"),
    ("data.story.n_train", 1800, "1871 stories"),
    ("data.story.n_tran", 5, "did you mean 'data.story.n_train'"),
    ("data.qa.n_train_docs", 200, "data.qa.n_train_docs"),
    ("data.qa.qa_per_doc", 2, "qa_per_doc"),
    ("data.qa.max_context_words", 3, "data.qa.max_context_words"),
    ("data.bundled_dir", "no/such/dir", "data.bundled_dir"),
    ("models.base.source", "ollama", "models.base.source"),
    ("models.base.gguf_package", "no_such_package_xyz", "models.base.gguf_package"),
    ("generator.backend", "anthropic", "generator.backend"),
    ("generator.temperature", 3.5, "generator.temperature"),
    ("generator.top_p", 0, "generator.top_p"),
    ("generator.max_new_tokens", 2, "generator.max_new_tokens"),
    ("generator.batch_api", True, "batch_api"),
    ("story_gen.topic_subset_sizes", [5, 2, 10, 20, 50, 100, 200], "strictly increasing"),
    ("story_gen.topic_subset_sizes", [2, 5, 10, 20, 50, 100, 500], "topic_pool_size"),
    ("story_gen.topic_subset_sizes", [2, 5, 10], "same number of levels"),
    ("story_gen.n_seed_stories", 0, "story_gen.n_seed_stories"),
    ("qa_gen.replaced_questions", [0, 1, 2, 3, 4, 5, 6], "strictly decreasing"),
    ("qa_gen.pairs_per_context", 4, "pairs_per_context"),
    ("qa_gen.paraphrases_per_question", 0, "qa_gen.paraphrases_per_question"),
    ("measure.distinct_max_n", 0, "measure.distinct_max_n"),
    ("measure.tokenizer", "bpe", "measure.tokenizer"),
    ("mixing.fixed_ratios", [0.0, 0.5, 1.5], "mixing.fixed_ratios[2]"),
    ("mixing.fixed_ratios", [-0.1], "mixing.fixed_ratios[0]"),
    ("mixing.fixed_ratios", [0.5, 0.5], "distinct"),
    ("mixing.expand_ratios", [0.5, 1.0], "mixing.expand_ratios[1]"),
    ("mixing.expand_ratios", [0.99], "generated story samples"),
    ("mixing.generated_level", 9, "mixing.generated_level"),
    ("mixing.expand_levels", [1, 8], "mixing.expand_levels"),
    ("mixing.fixed_real_fraction", 0.0, "mixing.fixed_real_fraction"),
    ("train.lora_r", 0, "train.lora_r"),
    ("train.learning_rate", 0.0, "train.learning_rate"),
    ("train.learning_rate", "fast", "train.learning_rate"),
    ("train.epochs", -1, "train.epochs"),
    ("train.max_length", 8, "train.max_length"),
    ("train.seeds", [], "train.seeds"),
    ("train.lora_target_modules", [], "train.lora_target_modules"),
    ("train.lora_rank", 8, "did you mean 'train.lora_r'"),
    ("train", _DELETE, "train: required key is missing"),
    ("typo_section", {"a": 1}, "unknown key"),
    ("models.generators.gemma3.gguf_package", "no_such_package_xyz", "models.generators.gemma3.gguf_package"),
    ("models.generators", {"Gemma-3": {"gguf_package": "x", "gguf_file": "y", "dir": "z"}}, "models.generators"),
    ("source_diversity.generators", [{"name": "smollm2", "model": "models/base"}], "at least two generators"),
    ("source_diversity.generators", [{"name": "multi", "model": "models/base"},
                                     {"name": "gemma3", "model": "models/generators/gemma3"}], "'multi'"),
    ("source_diversity.generators", [{"name": "a", "model": "models/base"}, {"name": "b", "model": "gpt-4o"}],
     "source_diversity.generators[b].model"),
    ("source_diversity.generators", [{"name": "a", "model": "models/base", "temperatur": 1.0},
                                     {"name": "b", "model": "models/base"}], "unknown key"),
    ("source_diversity.level", 9, "source_diversity.level"),
    ("source_diversity.prompts", 500, "data.story.n_test"),
    ("source_diversity.samples_per_prompt", 1, "source_diversity.samples_per_prompt"),
    ("source_diversity.distinct_max_n", 1, "source_diversity.distinct_max_n"),
]


def test_default_params_are_valid(repo):
    p = load_params(repo / "params.yaml")
    assert p.get("train.lora_r") == 8
    assert p.n_levels == 7 and p.levels == list(range(7))


def test_a_source_generator_inherits_every_unset_generator_setting(repo):
    p = load_params(repo / "params.yaml")
    gemma = p.source_diversity.generator("gemma3", p.generator)
    assert gemma.model == "models/generators/gemma3" and gemma.backend == "hf"
    assert gemma.model_dump(exclude={"model"}) == p.generator.model_dump(exclude={"model"})


@pytest.mark.parametrize("key,value,expected", BAD, ids=[f"{k}={v!r}"[:60] for k, v, _ in BAD])
def test_bad_value_is_rejected_with_its_key(raw_params, repo, key, value, expected):
    if key == "typo_section":
        raw_params[key] = value
    else:
        _set(raw_params, key, value)
    with pytest.raises(ParamsError) as err:
        validate(raw_params, root=repo)
    assert expected in str(err.value)


def test_every_problem_is_listed_at_once(raw_params, repo):
    raw_params["train"]["lora_r"] = 0
    raw_params["generator"]["temperature"] = 9
    with pytest.raises(ParamsError) as err:
        validate(raw_params, root=repo)
    msg = str(err.value)
    assert "train.lora_r = 0" in msg and "generator.temperature = 9" in msg
    assert "nothing was written" in msg


def test_error_names_value_and_allowed_range(raw_params, repo):
    raw_params["mixing"]["fixed_ratios"] = [0.0, 1.5]
    with pytest.raises(ParamsError) as err:
        validate(raw_params, root=repo)
    assert "mixing.fixed_ratios[1] = 1.5" in str(err.value)
    assert "less than or equal to 1" in str(err.value)


def test_not_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text("seed: [unclosed\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(bad)
    with pytest.raises(ParamsError, match="file not found"):
        load_params(tmp_path / "nope.yaml")


def test_dotted_get(repo):
    p = load_params(repo / "params.yaml")
    assert p.get("data.story.n_train") == p.data.story.n_train
    with pytest.raises(AttributeError):
        p.get("data.nothing")


def test_cli_fails_before_writing(raw_params, repo, tmp_path):
    """A stage run with bad params exits 2 with the message and writes no output."""
    raw_params["data"]["bundled_dir"] = str(repo / raw_params["data"]["bundled_dir"])
    raw_params["data"]["story"]["n_train"] = -5
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw_params))
    res = subprocess.run(
        [sys.executable, "-m", "gendiv.cli", "prepare-real", "--task", "story"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert res.returncode == 2, res.stderr
    assert "data.story.n_train = -5" in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "data").exists()

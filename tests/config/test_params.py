"""params.yaml validation: every bad value fails before a stage writes, naming the key."""

import shutil
import subprocess
import sys
import uuid

import pytest
import yaml

from gendiv.config import ParamsError, load_params, validate
from gendiv.errors import UserError


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
    ("train.per_task", {"story": {"learning_rate": None, "epochs": None}}, "train.per_task.qa"),
    ("train.per_task", {"poem": {"epochs": 1}}, "train.per_task.poem"),
    ("train.per_task", {"story": {"lr": 1e-3}}, "train.per_task.story"),
    ("train.per_task", {"story": {"learning_rate": None, "epochs": 0}}, "train.per_task.story.epochs"),
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
    (
        "source_diversity.generators",
        [{"name": "multi", "model": "models/base"}, {"name": "gemma3", "model": "models/generators/gemma3"}],
        "'multi'",
    ),
    (
        "source_diversity.generators",
        [{"name": "a", "model": "models/base"}, {"name": "b", "model": "gpt-4o"}],
        "source_diversity.generators[b].model",
    ),
    (
        "source_diversity.generators",
        [{"name": "a", "model": "models/base", "temperatur": 1.0}, {"name": "b", "model": "models/base"}],
        "unknown key",
    ),
    ("source_diversity.level", 9, "source_diversity.level"),
    ("source_diversity.prompts", 500, "data.story.n_test"),
    ("source_diversity.samples_per_prompt", 1, "source_diversity.samples_per_prompt"),
    ("source_diversity.distinct_max_n", 1, "source_diversity.distinct_max_n"),
    # paths: only the folders dvc.yaml declares (issue 14 item 2)
    ("models.base.dir", ".", "models.base.dir = '.': must be 'models/base'"),
    ("models.base.dir", "..", "models.base.dir = '..': must be 'models/base'"),
    ("models.base.dir", "/tmp/gendiv-model", "models.base.dir = '/tmp/gendiv-model': must be 'models/base'"),
    ("models.base.dir", "models/base/../..", "must be 'models/base'"),
    ("models.base.dir", "data/real", "must be 'models/base'"),
    ("data.bundled_dir", "..", "data.bundled_dir = '..': must be 'data/bundled'"),
    ("data.bundled_dir", "/etc", "must be 'data/bundled'"),
    ("models.generators.gemma3.dir", "models/base", "must be 'models/generators/gemma3'"),
    ("models.generators.gemma3.dir", "models/generators", "must be 'models/generators/gemma3'"),
    ("models.generators.gemma3.dir", "/tmp/g", "must be 'models/generators/gemma3'"),
    (
        "models.base.gguf_file",
        "../../../etc/passwd",
        "models.base.gguf_file = '../../../etc/passwd': expected a file name",
    ),
    ("models.base.gguf_package", "os.path", "models.base.gguf_package = 'os.path': expected the name of an installed"),
    ("models.base.gguf_package", "no_such_parent.child", "models.base.gguf_package"),
    ("models.base.hub_id", "/abs/model", "models.base.hub_id = '/abs/model': expected a Hugging Face hub id"),
    ("models.base.hub_id", "../model", "models.base.hub_id"),
    ("models.base.hub_id", "a/b/../../..", "models.base.hub_id"),
    ("models.base.hub_id", "~/model", "models.base.hub_id"),
    ("models.base.hub_id", "src", "models.base.hub_id = 'src' names the local path"),
    ("data.story.hub_id", "tests", "data.story.hub_id = 'tests' names the local path"),
    ("data.qa.hub_id", "/data/narrativeqa", "data.qa.hub_id"),
    ("measure.embedding_model", "/root/.cache/model", "measure.embedding_model"),
    ("measure.embedding_model", "src/gendiv", "measure.embedding_model = 'src/gendiv' names the local path"),
    ("generator.model", "/etc", "generator.model = '/etc': with backend hf"),
    ("generator.model", "../models/base", "generator.model"),
    # strict types and finite numbers (item 10)
    ("seed", "7", "seed = '7': Input should be a valid integer"),
    ("seed", True, "seed = True"),
    ("seed", 3.0, "seed = 3.0"),
    ("seed", 2**32, "seed = 4294967296"),
    ("train.seeds", [0, 2**32], "train.seeds[1]"),
    ("train.lora_r", 8.0, "train.lora_r = 8.0"),
    ("train.lora_r", "8", "train.lora_r = '8'"),
    ("generator.concurrency", True, "generator.concurrency = True"),
    ("levels", [0, 1.0], "levels[1]"),
    ("generator.batch_api", "false", "generator.batch_api = 'false'"),
    ("generator.batch_api", 0, "generator.batch_api = 0"),
    ("generator.timeout_s", float("inf"), "generator.timeout_s = inf: Input should be a finite number"),
    ("generator.timeout_s", float("nan"), "generator.timeout_s = nan"),
    ("generator.price_in_per_mtok", float("inf"), "generator.price_in_per_mtok = inf"),
    ("generator.price_out_per_mtok", float("nan"), "generator.price_out_per_mtok"),
    ("generator.max_cost_usd", 0, "generator.max_cost_usd = 0: Input should be greater than 0"),
    ("generator.max_cost_usd", "5", "generator.max_cost_usd = '5'"),
    ("train.lora_alpha", float("inf"), "train.lora_alpha = inf"),
    ("generator.temperature", "0.7", "generator.temperature = '0.7'"),
    ("train.lora_target_modules", ["q_proj", 5], "train.lora_target_modules[1]"),
    # base_url: an http(s) URL without credentials
    ("generator.base_url", "ftp://example.com/v1", "generator.base_url: must be an http:// or https:// URL"),
    ("generator.base_url", "localhost:8000/v1", "generator.base_url: must be an http:// or https:// URL"),
    ("generator.base_url", "https:///v1", "generator.base_url: must be an http:// or https:// URL with a host"),
    ("generator.base_url", "http://127.0.0.1:99999/v1", "generator.base_url"),
    ("generator.base_url", "https://user:pw@example.com/v1", "generator.base_url: must not contain user:password@"),
    ("generator.base_url", "https://token@example.com/v1", "generator.base_url: must not contain user:password@"),
    ("generator.base_url", "https://example.com/v1?api-key=abc", "generator.base_url: must not carry a query"),
    ("generator.base_url", 8000, "generator.base_url"),
    (
        "source_diversity.generators",
        [
            {"name": "a", "model": "models/base"},
            {"name": "b", "model": "m", "backend": "openai", "base_url": "https://u:p@example.com/v1"},
        ],
        "source_diversity.generators[1].base_url: must not contain user:password@",
    ),
    ("generator.api_key", "x", "credentials never go in params.yaml"),
]

GOOD = [
    ("generator.base_url", "http://127.0.0.1:8000/v1"),
    ("generator.base_url", "https://api.openai.com/v1"),
    ("generator.timeout_s", 5),  # an integer is a valid float
    ("generator.max_cost_usd", 2.5),
    ("measure.embedding_model", "sentence-transformers/all-mpnet-base-v2"),
    ("models.base.hub_id", "gpt2"),
    ("seed", 2**32 - 1),
]


def test_default_params_are_valid(repo):
    p = load_params(repo / "params.yaml")
    assert p.get("train.lora_r") == 8
    assert p.n_levels == 7 and p.levels == [0, 3, 6]
    assert len(p.train.seeds) >= 3  # issue 12: seeds and steps the verdicts need
    assert all(p.train_steps(task) >= 24 for task in ("story", "qa"))


@pytest.mark.parametrize(
    "max_steps,epochs,batch,expected",
    [
        (30, 1, 1, {"story": 30, "qa": 30}),
        ("real", 1, 1, {"story": 24, "qa": 36}),
        ("real", 2, 4, {"story": 12, "qa": 18}),
    ],
)
def test_the_step_budget_is_one_per_task(raw_params, repo, no_task_overrides, max_steps, epochs, batch, expected):
    raw_params["data"]["story"]["n_train"] = 24
    raw_params["data"]["qa"].update(n_train_docs=3, qa_per_doc=12)
    raw_params["train"].update(max_steps=max_steps, epochs=epochs, batch_size=batch, per_task=no_task_overrides)
    p = validate(raw_params, root=repo)
    assert {task: p.train_steps(task) for task in ("story", "qa")} == expected


def test_a_task_override_changes_only_that_task(raw_params, repo):
    raw_params["data"]["story"]["n_train"] = 24
    raw_params["data"]["qa"].update(n_train_docs=3, qa_per_doc=12)
    raw_params["train"].update(max_steps="real", epochs=1, learning_rate=1e-3)
    raw_params["train"]["per_task"] = {
        "story": {"learning_rate": 5e-4, "epochs": 2},
        "qa": {"learning_rate": None, "epochs": None},
    }
    p = validate(raw_params, root=repo)
    assert (p.train_steps("story"), p.task_train("story").learning_rate) == (48, 5e-4)
    assert (p.train_steps("qa"), p.task_train("qa").learning_rate) == (36, 1e-3)  # null = the section's value
    assert p.train.learning_rate == 1e-3  # the section itself is unchanged


def test_a_null_step_budget_leaves_the_steps_to_each_set(raw_params, repo):
    raw_params["train"]["max_steps"] = None
    assert validate(raw_params, root=repo).train_steps("qa") is None


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


@pytest.mark.parametrize("key,value", GOOD, ids=[f"{k}={v!r}" for k, v in GOOD])
def test_good_value_is_accepted(raw_params, repo, key, value):
    _set(raw_params, key, value)
    assert validate(raw_params, root=repo).get(key) == value


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
    raw_params["data"]["story"]["n_train"] = -5
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw_params))
    res = subprocess.run(
        [sys.executable, "-m", "gendiv.cli", "prepare-real", "--task", "story"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2, res.stderr
    assert "data.story.n_train = -5" in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "data").exists()


def _check_params(cwd, params_file, *extra):
    return subprocess.run(
        [sys.executable, "-m", "gendiv.cli", "check-params", "--params", str(params_file), *extra],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "key,value",
    [
        ("models.base.dir", "."),
        ("models.base.dir", ".."),
        ("data.bundled_dir", "/"),
        ("models.generators.gemma3.dir", "models"),
    ],
)
def test_check_params_rejects_a_path_outside_the_declared_folders(raw_params, tmp_path, key, value):
    """Acceptance 2: `gendiv check-params` exits 2 naming the key; the marker is not written."""
    _set(raw_params, key, value)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw_params))
    res = _check_params(tmp_path, "params.yaml", "--marker", "data/params.ok")
    assert res.returncode == 2, res.stdout + res.stderr
    assert f"{key} = {value!r}: must be" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "data").exists()


def _workspace_with_bundle(repo, tmp_path):
    shutil.copytree(repo / "data/bundled", tmp_path / "data/bundled")
    return tmp_path


@pytest.mark.parametrize("link", ["models", "models/base", "data/bundled", "data"])
def test_a_declared_folder_reached_through_a_symlink_out_of_the_repo_is_rejected(raw_params, repo, tmp_path, link):
    root = _workspace_with_bundle(repo, tmp_path / "repo")
    outside = tmp_path / "outside"
    shutil.copytree(root / link, outside) if (root / link).exists() else outside.mkdir()
    shutil.rmtree(root / link, ignore_errors=True)
    (root / link).parent.mkdir(parents=True, exist_ok=True)
    (root / link).symlink_to(outside, target_is_directory=True)
    with pytest.raises(ParamsError) as err:
        validate(raw_params, root=root)
    assert "through a symbolic link" in str(err.value) and str(outside) in str(err.value)
    key = "data.bundled_dir" if link.startswith("data") else "models.base.dir"
    assert f"{key} = " in str(err.value)


def test_a_symlink_that_stays_inside_the_repo_folders_is_fine(raw_params, repo, tmp_path):
    root = _workspace_with_bundle(repo, tmp_path)
    (root / "models/store/base").mkdir(parents=True)
    (root / "models/base").symlink_to(root / "models/store/base", target_is_directory=True)
    assert validate(raw_params, root=root).models.base.dir == "models/base"


def test_duplicate_yaml_key_is_rejected_with_its_line(repo, tmp_path):
    text = (repo / "params.yaml").read_text()
    path = tmp_path / "params.yaml"
    path.write_text(text.replace("train:\n", "train:\n  lora_r: 4\n", 1))
    line = next(
        i
        for i, t in enumerate(path.read_text().splitlines(), 1)
        if t.startswith("  lora_r:") and i > 1 and "lora_r: 4" not in t
    )
    with pytest.raises(ParamsError) as err:
        load_params(path)
    assert f"{path}:{line}: not valid YAML: duplicate key 'lora_r'" in str(err.value)
    assert "\n" not in str(err.value)


def test_yaml_reads_exponent_floats_like_dvc(repo, tmp_path):
    """YAML 1.1 (PyYAML) reads 1e-3 as a string; DVC (YAML 1.2) as a float. Strict floats need the latter."""
    path = tmp_path / "params.yaml"
    path.write_text((repo / "params.yaml").read_text().replace("learning_rate: 1.0e-3", "learning_rate: 1e-3"))
    shutil.copytree(repo / "data/bundled", tmp_path / "data/bundled")
    assert load_params(path).train.learning_rate == 1e-3


BUNDLE_FAULTS = [
    ("narrativeqa/qa.jsonl", lambda t: t.replace("\n", "\n\n", 1), "qa.jsonl:2: blank line"),
    ("narrativeqa/qa.jsonl", lambda t: t.replace("\n", '\n{"document_id": \n', 1), "qa.jsonl:2: not valid JSON"),
    ("narrativeqa/qa.jsonl", lambda t: t.replace('"question"', '"q"', 1), "qa.jsonl:1: missing field(s) 'question'"),
    ("narrativeqa/summaries.jsonl", lambda t: t.replace('"summary"', '"text"', 1), "summaries.jsonl:1: missing field"),
    ("rocstories/stories.csv", lambda t: t.replace("\n", '\nx,"a\nb",c,d,e,f\n', 1), "stories.csv:2: a quoted cell"),
    ("rocstories/stories.csv", lambda t: t.replace("\n", "\nx,a,b\n", 1), "stories.csv:2: fewer cells"),
]


@pytest.mark.parametrize("name,fault,expected", BUNDLE_FAULTS, ids=[e for *_, e in BUNDLE_FAULTS])
def test_a_malformed_bundled_file_fails_check_params_naming_file_and_line(
    raw_params, repo, tmp_path, name, fault, expected
):
    root = _workspace_with_bundle(repo, tmp_path)
    path = root / "data/bundled" / name
    path.write_text(fault(path.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(UserError) as err:
        validate(raw_params, root=root)
    assert expected in str(err.value) and str(path) in str(err.value)


def test_non_utf8_bundled_csv_exits_2_with_one_line(raw_params, repo, tmp_path):
    root = _workspace_with_bundle(repo, tmp_path)
    path = root / "data/bundled/rocstories/stories.csv"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\nx,caf\xe9,b,c,d,e\n", 1))
    (root / "params.yaml").write_text(yaml.safe_dump(raw_params))
    res = _check_params(root, "params.yaml", "--marker", "data/params.ok")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines() == [
        f"gendiv: error: {path}:2: not UTF-8 text (byte 0xe9); save the file as UTF-8"
    ]
    assert not (root / "data/params.ok").exists()


SECRET = f"sk-planted-{uuid.uuid4().hex}"  # made at run time: no source file holds it
SECRET_URL = f"https://alice:{SECRET}@llm.example.invalid/v1"


@pytest.mark.parametrize(
    "plant",
    [
        {"generator.base_url": SECRET_URL},
        {"generator.base_url": f"https://llm.example.invalid/v1?key={SECRET}"},
        {"generator.model": SECRET, "generator.backend": "hf"},
        {"generator.api_key": SECRET},
        {"models.base.hub_id": f"{SECRET}/../x"},
    ],
)
def test_planted_secrets_never_reach_an_error_message(raw_params, tmp_path, plant):
    """Acceptance 6: a credential in params is rejected without being echoed."""
    for key, value in plant.items():
        _set(raw_params, key, value)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw_params))
    res = _check_params(tmp_path, "params.yaml")
    assert res.returncode == 2 and "params.yaml is invalid" in res.stderr
    assert SECRET not in res.stdout + res.stderr and "alice" not in res.stderr


def test_a_url_with_userinfo_never_reaches_dvc_lock_or_dvc_output(tmp_path):
    """Acceptance 6 through DVC: the check_params stage stops `dvc repro` before any stage records the param."""
    from workspace import copy_workspace, dvc, edit_params

    ws = copy_workspace(tmp_path / "ws")
    edit_params(ws, {"generator.base_url": SECRET_URL})
    res = dvc(ws, "repro", "check_params", check=False, timeout=300)
    assert res.returncode != 0
    assert SECRET not in res.stdout + res.stderr
    lock = ws / "dvc.lock"
    assert not lock.exists() or SECRET not in lock.read_text()
    leaked = [
        str(f)
        for f in ws.rglob("*")
        if f.is_file() and ".git" not in f.parts and f.name != "params.yaml" and SECRET.encode() in f.read_bytes()
    ]
    assert not leaked

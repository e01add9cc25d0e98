"""A local transformers model (the embedded default: SmolLM2 from the base-model stage).

Prompts go through the model's chat template, left-padded, in fixed batches. A model
without one (a pretrained, not instruction-tuned model such as Gemma 3 270M) gets the turns
as plain text, one paragraph each, which it continues like a document of examples; its
answer ends at the first blank line (generation stops there instead of running on into
the next made-up request). A request that says when its answer is complete
(`Request.complete`) stops there: batches end when every row is complete, not at the token
cap one rambling row would reach; the rows' earlier tokens are unchanged by it (finished rows
keep drawing from the sampler, padded). Each batch
samples under a torch seed derived from the global seed and its first request's key, so a
batch run again (after a kill) gives the same answers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import torch

from gendiv.errors import UserError
from gendiv.llm.base import Completion, derived_seed


def fingerprint(model_dir: Path) -> str:
    """sha256 over the model directory's files, so a changed model never hits old cache entries."""
    h = hashlib.sha256()
    for f in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        h.update(f.relative_to(model_dir).as_posix().encode() + b"\0")
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                h.update(block)
    return h.hexdigest()


PARAGRAPH_END = "\n\n"


class HFBackend:
    name = "hf"
    fills_batches = True  # a batch costs about the same whether full or not (see llm.collect)

    def __init__(self, cfg, seed: int, model, tokenizer, model_id: str):
        self.cfg, self.seed, self.model_obj, self.tok = cfg, seed, model, tokenizer
        self.model, self.model_id = cfg.model, model_id
        self.unit = cfg.batch_size
        # where answers are sampled (part of every key); without weights, where from_params would put them
        self.device = model.device.type if model is not None else ("cuda" if torch.cuda.is_available() else "cpu")
        self.tok.padding_side = "left"
        if self.tok.pad_token is None:
            self.tok.pad_token = self.tok.eos_token

    @classmethod
    def from_params(cls, cfg, seed: int, weights: bool = True) -> HFBackend:
        """The backend of params; `weights=False`: tokenizer and settings only, for `gendiv estimate`."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(cfg.model)
        if not (path / "config.json").is_file():
            raise UserError(
                f"generator.model = {cfg.model!r}: not a model directory (for backend hf, "
                "run the base_model stage or point it at a transformers model folder)"
            )
        tok = AutoTokenizer.from_pretrained(path)
        model = None
        if weights:
            model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
            if torch.cuda.is_available():
                model = model.to("cuda")
        return cls(cfg, seed, model, tok, fingerprint(path))

    def settings(self) -> dict:
        """Also the device type and torch version: CPU and GPU (or two torch releases) sample
        different answers from the same seed, so their answers must not mix in one run."""
        c = self.cfg
        return {
            "backend": self.name,
            "model": self.model_id,
            "temperature": c.temperature,
            "top_p": c.top_p,
            "max_new_tokens": c.max_new_tokens,
            "batch_size": c.batch_size,
            "seed": self.seed,
            "device": self.device,
            "torch": torch.__version__,
        }

    def render(self, messages: list[dict]) -> str:
        if self.tok.chat_template:
            return self.tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return "\n\n".join(m["content"] for m in messages) + "\n"

    def prompt_tokens(self, request) -> int:
        """The input tokens `generate` counts for this request (its unpadded length)."""
        return len(self.tok(self.render(request.messages), add_special_tokens=not self.tok.chat_template)["input_ids"])

    def generate(
        self, messages: list[list[dict]], seed: int, complete: list[Callable[[str], bool] | None] | None = None
    ) -> list[Completion]:
        """One batch; `complete[i]`: when row i's answer holds all its parser reads (None: the cap)."""
        prompts = [self.render(m) for m in messages]
        enc = self.tok(prompts, return_tensors="pt", padding=True, add_special_tokens=not self.tok.chat_template)
        enc = enc.to(self.model_obj.device)
        sampling = (
            {"do_sample": True, "temperature": self.cfg.temperature, "top_p": self.cfg.top_p}
            if self.cfg.temperature > 0
            else {"do_sample": False}
        )
        plain = not self.tok.chat_template
        if plain:
            sampling |= {"stop_strings": [PARAGRAPH_END], "tokenizer": self.tok}
        if complete and any(complete):
            sampling["stopping_criteria"] = _answers_complete(self.tok, enc["input_ids"].shape[1], complete)
        torch.manual_seed(seed)
        with torch.inference_mode():
            out = self.model_obj.generate(
                **enc, max_new_tokens=self.cfg.max_new_tokens, pad_token_id=self.tok.pad_token_id, **sampling
            )
        new = out[:, enc["input_ids"].shape[1] :].tolist()
        eos = self.model_obj.generation_config.eos_token_id
        stops = {self.tok.eos_token_id, self.tok.pad_token_id, *(eos if isinstance(eos, list) else [eos])}
        results = []
        for row, n_in in zip(new, enc["attention_mask"].sum(dim=1).tolist()):
            end = next((i for i, t in enumerate(row) if t in stops), None)
            ids = row if end is None else row[:end]
            text = self.tok.decode(ids, skip_special_tokens=True)
            done = complete[len(results)] if complete else None
            # a stop string, or the answer's own completeness, also ends an answer
            stopped = end is not None or (plain and PARAGRAPH_END in text) or bool(done and done(text))
            if plain:
                text = text.split(PARAGRAPH_END, 1)[0]
            results.append(
                Completion(text, int(n_in), len(ids) + (0 if end is None else 1), "stop" if stopped else "length")
            )
        return results

    def run(self, units, store, stats) -> None:
        for unit in units:
            seed = derived_seed(self.seed, unit[0][0])
            completions = self.generate([r.messages for _, r in unit], seed, [r.complete for _, r in unit])
            stats.calls += len(unit)
            stats.tokens_in += sum(c.tokens_in for c in completions)
            stats.tokens_out += sum(c.tokens_out for c in completions)
            store([(k, r, c) for (k, r), c in zip(unit, completions)])


def _answers_complete(tok, prompt_len: int, complete: list[Callable[[str], bool] | None]):
    """A stopping criterion: row i is done once `complete[i]` holds for its decoded answer."""
    from transformers import StoppingCriteria, StoppingCriteriaList  # imported here: fingerprint() needs none

    class AnswersComplete(StoppingCriteria):
        def __init__(self) -> None:
            self.done = [False] * len(complete)

        def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
            answers = input_ids[:, prompt_len:].tolist()
            for i, check in enumerate(complete):
                if check is not None and not self.done[i]:
                    self.done[i] = check(tok.decode(answers[i], skip_special_tokens=True))
            return torch.tensor(self.done, dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([AnswersComplete()])

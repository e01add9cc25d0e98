"""hf backend: fixed batches make answers independent of what was cached (tiny random Llama)."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from gendiv.config import Generator
from gendiv.llm import LLM, GenerationStats, Request
from gendiv.llm.cache import CallCache
from gendiv.llm.hf_backend import HFBackend
from tiny_model import base_tokenizer


@pytest.fixture(scope="module")
def tiny():
    tok = base_tokenizer()
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    return LlamaForCausalLM(cfg).eval(), tok


def _llm(tiny, cache_dir, **over) -> LLM:
    cfg = Generator(backend="hf", model="tiny", prompt_style="chat", batch_size=4, max_new_tokens=12, **over)
    model, tok = tiny
    return LLM(HFBackend(cfg, 0, model, tok, "tiny-random"), CallCache(cache_dir), GenerationStats())


def _requests(n: int) -> list[Request]:
    return [
        Request("t", "1", [{"role": "user", "content": f"Tell me about number {i % 3}"}], f"s/{i}") for i in range(n)
    ]


def test_batched_sampling_is_reproducible_and_resumes_identically(tiny, tmp_path):
    fresh = _llm(tiny, tmp_path / "a")
    full = fresh.complete(_requests(10))
    assert fresh.stats.calls == 10 and all(c.tokens_out > 0 for c in full)
    assert len({c.text for c in full}) > 3  # identical prompts still differ (sample index)
    assert _llm(tiny, tmp_path / "b").complete(_requests(10)) == full  # same seed, same answers

    partial = _llm(tiny, tmp_path / "c")
    partial.complete(_requests(10)[:4])  # as if killed after the first batch
    resumed = _llm(tiny, tmp_path / "c")
    assert resumed.complete(_requests(10)) == full
    assert resumed.stats.calls == 6 and resumed.stats.cache_hits == 4

    again = _llm(tiny, tmp_path / "c")
    assert again.complete(_requests(10)) == full and again.stats.calls == 0


def test_other_sampling_settings_are_other_calls(tiny, tmp_path):
    base = _llm(tiny, tmp_path / "x").complete(_requests(4))
    other = _llm(tiny, tmp_path / "x", temperature=1.3)
    assert other.complete(_requests(4)) != base and other.stats.calls == 4


def test_greedy_decoding_and_token_counts(tiny, tmp_path):
    llm = _llm(tiny, tmp_path / "g", temperature=0.0)
    out = llm.complete(_requests(4))
    assert out[0].text == out[3].text  # greedy: the same prompt gives the same answer
    assert all(c.tokens_in > 5 and c.finish_reason in ("stop", "length") for c in out)
    assert llm.stats.tokens_out == sum(c.tokens_out for c in out)


def test_a_model_without_chat_template_gets_the_turns_as_plain_paragraphs(tiny, tmp_path):
    import copy

    model, tok = tiny
    plain = copy.deepcopy(tok)
    plain.chat_template = None
    cfg = Generator(backend="hf", model="tiny", prompt_style="chat", batch_size=2, max_new_tokens=8)
    backend = HFBackend(cfg, 0, model, plain, "t")
    turns = [
        {"role": "user", "content": "Write a story."},
        {"role": "assistant", "content": "1. Ann ran."},
        {"role": "user", "content": "Write another."},
    ]
    assert backend.render(turns) == "Write a story.\n\n1. Ann ran.\n\nWrite another.\n"
    assert HFBackend(backend.cfg, 0, model, tok, "t").render(turns) != backend.render(turns)
    out = backend.generate([turns, turns[:1]], seed=1)
    assert len(out) == 2 and all(c.tokens_in > 3 and "\n\n" not in c.text for c in out)


def test_the_call_key_holds_the_device_and_torch_version(tiny, tmp_path):
    """CPU and GPU (or two torch releases) sample different answers: their cache entries never mix."""
    from gendiv.llm.base import call_key

    model, tok = tiny
    cfg = Generator(backend="hf", model="tiny", prompt_style="chat", batch_size=4, max_new_tokens=12)
    cpu = HFBackend(cfg, 0, model, tok, "tiny-random")
    gpu = HFBackend(cfg, 0, SimpleNamespace(device=torch.device("cuda", 0)), tok, "tiny-random")
    assert cpu.settings()["device"] == "cpu" and cpu.settings()["torch"] == torch.__version__
    request = _requests(1)[0]
    assert call_key(cpu.settings(), request) != call_key(gpu.settings(), request)


class _Scripted:
    """A stand-in model whose generate() appends fixed token rows (to test finish reasons)."""

    def __init__(self, rows: list[list[int]], eos: int):
        self.rows, self.device = rows, torch.device("cpu")
        self.generation_config = SimpleNamespace(eos_token_id=eos)

    def generate(self, input_ids, **kwargs):
        return torch.cat([input_ids, torch.tensor(self.rows)], dim=1)


def test_an_answer_ended_by_its_stop_string_is_not_truncated(tiny):
    """Plain-text models stop at a blank line, not at EOS: that is a finished answer ("stop");
    only an answer cut by max_new_tokens is "length" (which collect rejects)."""
    import copy

    _, tok = tiny
    plain = copy.deepcopy(tok)
    plain.chat_template = None
    words = plain("Ann ran home.\n\nWrite more", add_special_tokens=False)["input_ids"]
    cut = (plain("Ann ran home and then she", add_special_tokens=False)["input_ids"] * 3)[: len(words)]
    rows, width = [words, cut], len(words)  # neither row holds EOS or padding
    backend = HFBackend(
        Generator(backend="hf", model="t", prompt_style="chat", batch_size=2, max_new_tokens=width),
        0,
        _Scripted(rows, plain.eos_token_id),
        plain,
        "t",
    )
    done, truncated = backend.generate([[{"role": "user", "content": "Go."}]] * 2, seed=0)
    assert done.text == "Ann ran home." and done.finish_reason == "stop"
    assert truncated.finish_reason == "length"


def test_a_row_stops_where_its_answer_is_complete_and_the_others_are_unchanged(tiny, tmp_path):
    """Request.complete ends a row early (finish "stop"); its text is a prefix of the answer
    sampled without it, and the batch's other rows are sampled exactly as before."""
    requests = _requests(4)

    def short(text: str) -> bool:
        return len(text) >= 6

    stopping = [replace(r, complete=short) for r in requests[:2]]
    full = _llm(tiny, tmp_path / "full").complete(requests)
    llm = _llm(tiny, tmp_path / "early")
    early = llm.complete(stopping + requests[2:])
    assert early[2:] == full[2:]
    for cut, whole in zip(early[:2], full[:2]):
        assert whole.text.startswith(cut.text) and short(cut.text) and cut.finish_reason == "stop"
    assert sum(c.tokens_out for c in early[:2]) < sum(c.tokens_out for c in full[:2])


def test_a_batch_whose_rows_are_all_complete_ends_before_the_cap(tiny, tmp_path):
    """Every row with its predicate: the batch stops once all hold, each answer "stop"."""
    stopping = [replace(r, complete=lambda t: len(t) >= 4) for r in _requests(4)]
    early = _llm(tiny, tmp_path / "all").complete(stopping)
    assert all(c.finish_reason == "stop" and len(c.text) >= 4 for c in early)
    assert max(c.tokens_out for c in early) < 12  # the cap (max_new_tokens) is 12

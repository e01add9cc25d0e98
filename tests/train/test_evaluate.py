"""Test loss per completion token: equals a plain forward pass; no example scores zero tokens."""

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from gendiv.train.evaluate import UnscorableExampleError, completion_nll, encode, fit_example, score_rows
from tiny_model import make_tiny_llama

STORIES = [
    {
        "id": "s1",
        "context": "Tom bought a kite. He went to the park. The wind was strong. It flew high.",
        "completion": "Tom smiled all afternoon.",
    },
    {"id": "s2", "context": "Ann baked bread.", "completion": "Her family ate every slice before dinner."},
    {"id": "s3", "context": " ".join(["The long day went on and on."] * 30), "completion": "Finally it ended."},
]
QA = [
    {
        "id": "q1",
        "context": "Ann lives in Oslo with her dog Rex. " * 20,
        "question": "Where does Ann live?",
        "answer": "In Oslo.",
    }
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = make_tiny_llama(tmp_path_factory.mktemp("tiny"))
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32), AutoTokenizer.from_pretrained(path)


def direct_loss(model, tokenizer, pairs) -> tuple[float, int]:
    """Reference: one unpadded forward pass per example, NLL summed over completion tokens."""
    total, count = 0.0, 0
    for pair in pairs:
        prompt_ids = tokenizer(pair["prompt"])["input_ids"]
        ids = tokenizer(pair["prompt"] + pair["completion"] + tokenizer.eos_token)["input_ids"]
        assert ids[: len(prompt_ids)] == prompt_ids
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0]
        logp = torch.log_softmax(logits.double(), dim=-1)
        for pos in range(len(prompt_ids), len(ids)):
            total -= float(logp[pos - 1, ids[pos]])
            count += 1
    return total / count, count


@pytest.mark.parametrize("task,rows", [("story", STORIES), ("qa", QA)])
def test_loss_equals_plain_forward_computation(tiny, task, rows):
    model, tokenizer = tiny
    pairs = [fit_example(tokenizer, task, r, 64) for r in rows]
    for batch_size in (1, 2):  # padding must not change the numbers
        nll, tokens = completion_nll(model, tokenizer, pairs, batch_size)
        for pair, example_nll, example_tokens in zip(pairs, nll, tokens):  # per example, in input order
            ref, ref_tokens = direct_loss(model, tokenizer, [pair])
            assert example_tokens == ref_tokens
            assert abs(example_nll / example_tokens - ref) < 1e-4
        ref, ref_tokens = direct_loss(model, tokenizer, pairs)
        assert sum(tokens) == ref_tokens and abs(sum(nll) / sum(tokens) - ref) < 1e-4
    assert ref > 1.0  # a random model is far from perfect: the comparison is not trivially 0 == 0


def test_contexts_are_cut_never_completions(tiny):
    _, tokenizer = tiny
    fitted = fit_example(tokenizer, "story", STORIES[2], 40)
    ids, start = encode(tokenizer, fitted["prompt"], fitted["completion"])
    assert len(ids) <= 40 and fitted["completion"] == " Finally it ended."
    assert STORIES[2]["context"].endswith(fitted["prompt"])  # story keeps the words nearest the ending
    qa = fit_example(tokenizer, "qa", QA[0], 48)
    assert qa["prompt"].startswith("Context: Ann lives") and qa["prompt"].endswith(
        "Question: Where does Ann live?\nAnswer:"
    )
    assert len(encode(tokenizer, qa["prompt"], qa["completion"])[0]) <= 48


def test_example_without_room_for_its_completion_is_named(tiny):
    model, tokenizer = tiny
    long_end = {"id": "too-long-7", "context": "Short start.", "completion": "word " * 60}
    with pytest.raises(UnscorableExampleError, match="too-long-7"):
        score_rows(model, tokenizer, "story", STORIES[:1] + [long_end], 32, 4)


def test_score_rows_reports_token_weighted_mean_and_each_example(tiny):
    model, tokenizer = tiny
    out, per_example = score_rows(model, tokenizer, "story", STORIES, 64, 2)
    assert per_example["id"] == ["s1", "s2", "s3"] and per_example["tokens"] == [
        direct_loss(model, tokenizer, [fit_example(tokenizer, "story", r, 64)])[1] for r in STORIES
    ]
    pairs = [fit_example(tokenizer, "story", r, 64) for r in STORIES]
    per_example = [direct_loss(model, tokenizer, [p]) for p in pairs]
    weighted = sum(loss * n for loss, n in per_example) / sum(n for _, n in per_example)
    assert abs(out["test_loss"] - weighted) < 1e-4 and out["test_tokens"] == sum(n for _, n in per_example)


def test_a_progress_bar_on_stderr_only_when_asked(tiny, capsys):
    model, tokenizer = tiny
    pairs = [fit_example(tokenizer, "story", r, 64) for r in STORIES]
    completion_nll(model, tokenizer, pairs, 1)
    assert capsys.readouterr().err == ""
    completion_nll(model, tokenizer, pairs, 1, progress="evaluate story")
    captured = capsys.readouterr()
    assert "evaluate story: 100%" in captured.err and f"{len(pairs)}/{len(pairs)}" in captured.err
    assert captured.out == ""


def test_swapped_adapters_score_and_generate_as_freshly_loaded_ones(tmp_path):
    """One base model with adapters put on and taken off gives bit-identical numbers to loading
    base + adapter anew each time (the path self_preference and adversarial used before)."""
    from peft import LoraConfig, get_peft_model

    from gendiv.train.evaluate import BaseWithAdapters, load_model

    base = make_tiny_llama(tmp_path / "base")
    adapters = []
    for i in range(2):
        torch.manual_seed(i)
        model = AutoModelForCausalLM.from_pretrained(base)
        lora = get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
        lora.save_pretrained(tmp_path / f"a{i}")
        adapters.append(tmp_path / f"a{i}")
    pairs = [{"prompt": s["context"], "completion": " " + s["completion"]} for s in STORIES[:2]]
    prompt = AutoTokenizer.from_pretrained(base)(STORIES[0]["context"], return_tensors="pt")

    def numbers(model, tokenizer):
        nll, _ = completion_nll(model, tokenizer, pairs, 2)
        with torch.inference_mode():
            out = model.generate(**prompt, do_sample=False, max_new_tokens=6, pad_token_id=tokenizer.eos_token_id)
        return nll, out.tolist()

    shared = BaseWithAdapters(base)
    fresh = {a: numbers(*load_model(base, a)) for a in [None, *adapters]}
    assert fresh[adapters[0]] != fresh[None] != fresh[adapters[1]]  # the adapters change the numbers
    for adapter in [adapters[0], adapters[1], None, adapters[0], None, adapters[1]]:
        assert numbers(shared.with_adapter(adapter), shared.tokenizer) == fresh[adapter]

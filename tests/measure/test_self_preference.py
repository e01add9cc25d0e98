"""Self-preference: likelihood judging on a tiny model, both-orders prompted judging against the
local OpenAI-compatible server, and the report's paired verdicts on constructed numbers."""

from __future__ import annotations

import numpy as np
import pytest

import openai_server
from gendiv.config import ParamsError, validate
from gendiv.io import write_json, write_jsonl
from gendiv.measure import self_preference as sp
from gendiv.measure.output_diversity import outputs_file
from gendiv.report import self_preference as rsp
from gendiv.report.stats import Verdict
from gendiv.train.runs import adapter_path
from openai_server import FakeOpenAI
from tiny_model import make_tiny_llama

NAMES = ["base", "real", "src_smollm2", "src_gemma3", "src_multi"]
PROMPTS = [
    "Tom went to the park. It was sunny. He met a friend. They played ball.",
    "Mia baked a cake. It smelled sweet. Her brother came home. He was hungry.",
]


def _params(raw, repo, **sp_values):
    raw["self_preference"].update(sp_values)
    return validate(raw, root=repo)


def _workspace(tmp, monkeypatch, adapters: bool = True):
    """tmp/models/base (tiny Llama), a LoRA adapter per fine-tuned model, and two test stories."""
    monkeypatch.chdir(tmp)
    make_tiny_llama(tmp / "models/base")
    if adapters:
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModelForCausalLM

        for name in NAMES[1:]:
            model = AutoModelForCausalLM.from_pretrained(tmp / "models/base")
            lora = get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
            lora.save_pretrained(adapter_path("story", name, 0))
    write_jsonl(
        tmp / "data/real/story/test.jsonl",
        [{"id": f"t{i}", "context": q, "completion": "Then they went home."} for i, q in enumerate(PROMPTS)],
    )


def _outputs(tmp, own: dict[str, list[str]]) -> None:
    for name, texts in own.items():
        write_jsonl(
            tmp / outputs_file(name, 0),
            [{"prompt_id": f"t{i}", "outputs": [t, "spare"]} for i, t in enumerate(texts)],
        )


def test_outcomes_parsing_and_both_orders():
    assert sp.compare_scores(-1.0, -2.0) == "win" and sp.compare_scores(-2.0, -1.0) == "loss"
    assert sp.compare_scores(-1.0, -1.0 + 1e-9) == "tie"
    assert [sp.parse_choice(t) for t in ("A.", " b", "Tie", "Answer: B", "Neither")] == ["A", "B", "tie", "B", None]
    assert sp.both_orders("A", "B") == "win" and sp.both_orders("B", "A") == "loss"
    assert sp.both_orders("A", "A") == "tie" == sp.both_orders("B", "B")  # pure position bias: no preference
    assert sp.both_orders("tie", None) == "tie"


def test_a_judge_whose_own_text_is_likelier_prefers_it_and_equal_texts_tie(tmp_path, monkeypatch, raw_params, repo):
    from gendiv.train.evaluate import BaseWithAdapters, completion_nll, load_model

    _workspace(tmp_path, monkeypatch, adapters=False)
    p = _params(raw_params, repo)
    texts = ["He smiled.", "The dog barked loudly at night.", "Zebra quantum lantern seven.", "They ate pie."]
    model, tok = load_model("models/base")
    nll, n = completion_nll(model, tok, [{"prompt": PROMPTS[0], "completion": " " + t} for t in texts], 8)
    ranked = [texts[i] for i in np.argsort([-a / b for a, b in zip(nll, n)])[::-1]]  # likeliest first
    best, worst = ranked[0], ranked[-1]
    shared = BaseWithAdapters("models/base")
    got = sp.likelihood_outcomes(p, shared, None, PROMPTS[:1], [best], {"x": [worst], "y": [ranked[1]], "same": [best]})
    assert got == {"x": ["win"], "y": ["win"], "same": ["tie"]}
    got = sp.likelihood_outcomes(p, shared, None, PROMPTS[:1], [worst], {"x": [best]})
    assert got == {"x": ["loss"]}


def test_likelihood_stage_end_to_end(tmp_path, monkeypatch, raw_params, repo):
    _workspace(tmp_path, monkeypatch)
    p = _params(raw_params, repo, prompts=2)
    own = {n: [f"{n} ran away.", "She laughed."] for n in NAMES}
    own["src_multi"] = own["real"]  # identical outputs: ties between them
    _outputs(tmp_path, own)
    m = sp.run(p)
    assert m["mode"] == "likelihood" and m["n_prompts"] == 2 and set(m["judges"]) == set(NAMES)
    real = m["judges"]["real"]
    for scope in ("vs_models", "vs_human"):
        assert sum(real[scope].values()) == pytest.approx(1.0)
        assert len(real["per_prompt"][scope]["win"]) == 2
    assert real["per_seed"]["s0"] == real["per_prompt"]  # one seed: its values are the averages
    # vs the 4 other models, real ties src_multi on both prompts and base, src_* on prompt 1 ("She laughed.")
    assert real["per_prompt"]["vs_models"]["tie"] == [0.25, 1.0]
    assert set(m["seconds"]) == {f"{n}/s0" for n in NAMES}


def test_prompted_judging_in_both_orders_removes_position_bias(tmp_path, monkeypatch, raw_params, repo):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-self-pref")
    _workspace(tmp_path, monkeypatch, adapters=False)
    _outputs(tmp_path, {n: [f"{n} ran away.", f"{n} sang."] for n in NAMES})
    monkeypatch.setattr(
        openai_server, "answer_for", lambda prompt, seed: "A" if "Which next sentence" in prompt else "ok"
    )
    with FakeOpenAI() as srv:
        p = _params(
            raw_params,
            repo,
            prompts=2,
            mode="prompted",
            judge={"backend": "openai", "model": "{model}_s{seed}", "base_url": srv.base_url},
        )
        m = sp.run(p, cache_dir=tmp_path / "cache")
    for name in NAMES:
        assert m["judges"][name]["vs_models"] == {"win": 0.0, "tie": 1.0, "loss": 0.0}  # not 100% own wins
        assert m["judges"][name]["vs_human"]["tie"] == 1.0
        j = m["judging"][f"{name}/s0"]
        assert j["first_shown_rate"] == 1.0 and j["answers"] == 2 * 2 * 5 and j["unparsed"] == 0
        assert j["judge"].endswith(f"{name}_s0")


def test_params_reject_a_judge_that_is_not_the_judged_model(raw_params, repo):
    with pytest.raises(ParamsError, match="must hold {model}"):
        _params(raw_params, repo, mode="prompted", judge={"backend": "openai", "model": "gpt-4o"})
    with pytest.raises(ParamsError, match="leave model unset"):
        _params(raw_params, repo, mode="prompted", judge={"backend": "hf", "model": "models/base"})
    with pytest.raises(ParamsError, match="more than source_diversity.prompts"):
        _params(raw_params, repo, prompts=999)


# ---------------------------------------------------------------- report


def _rates(net_values: np.ndarray) -> dict:
    """Per-prompt rates whose win - loss equals net_values."""
    win = np.clip(net_values, 0, 1)
    loss = np.clip(-net_values, 0, 1)
    return {"win": win.tolist(), "tie": (1 - win - loss).tolist(), "loss": loss.tolist()}


def _model(net_by_seed: np.ndarray, seeds) -> dict:
    """A model's metrics whose per-seed, per-prompt win - loss equals net_by_seed (in both scopes)."""
    pp = _rates(net_by_seed.mean(axis=0))
    rates = {k: float(np.mean(v)) for k, v in pp.items()}
    per_seed = {f"s{s}": {scope: _rates(row) for scope in rsp.SCOPES} for s, row in zip(seeds, net_by_seed)}
    return {
        "vs_models": rates,
        "vs_human": rates,
        "per_prompt": {"vs_models": pp, "vs_human": pp},
        "per_seed": per_seed,
    }


def _metrics(order: dict[str, float], seeds=(0, 1), n: int = 40, seed_spread: float = 0.0) -> dict:
    """Net values level + prompt noise, shifted per seed by seed_spread x (-1, 0, 1, ...) in a
    model-specific order that sums to zero: the seed averages do not depend on seed_spread."""
    rng = np.random.default_rng(0)
    offsets = seed_spread * (np.arange(len(seeds)) - (len(seeds) - 1) / 2)
    judges = {}
    for name, level in order.items():
        prompt_values = level + 0.05 * rng.standard_normal(n)
        judges[name] = _model(prompt_values + rng.permutation(offsets)[:, None], seeds)
    return {"mode": "likelihood", "n_prompts": n, "seeds": list(seeds), "seconds": {}, "judges": judges}


CLAIMED = {"base": 0.6, "src_smollm2": 0.5, "src_gemma3": 0.5, "src_multi": 0.3, "real": 0.1}
REVERSED = {"base": 0.1, "src_smollm2": 0.2, "src_gemma3": 0.2, "src_multi": 0.4, "real": 0.6}


def test_report_verdicts_follow_the_paired_differences(raw_params, repo):
    p = _params(raw_params, repo)
    assert [f.verdict for f in rsp.findings(p, _metrics(CLAIMED))] == [Verdict.REPRODUCED] * 3
    assert [f.verdict for f in rsp.findings(p, _metrics(REVERSED))] == [Verdict.NOT_REPRODUCED] * 3
    flat = {k: 0.3 for k in CLAIMED}
    assert [f.verdict for f in rsp.findings(p, _metrics(flat))] == [Verdict.INCONCLUSIVE] * 3
    one_seed = rsp.findings(p, _metrics(CLAIMED, seeds=(0,)))
    assert {f.verdict for f in one_seed} == {Verdict.INDICATION} and "for the claim" in one_seed[0].label
    assert "smallest detectable" in one_seed[0].evidence


def test_seed_to_seed_disagreement_widens_the_report_s_standard_error(raw_params, repo):
    p = _params(raw_params, repo)
    steady, noisy = _metrics(CLAIMED, seeds=(0, 1, 2)), _metrics(CLAIMED, seeds=(0, 1, 2), seed_spread=0.35)
    for name in CLAIMED:  # the seed averages are the same: averaging first hides the seed spread
        averaged = rsp.net(noisy["judges"][name]["per_prompt"])
        assert averaged == pytest.approx(rsp.net(steady["judges"][name]["per_prompt"]))
    assert [f.verdict for f in rsp.findings(p, steady)] == [Verdict.REPRODUCED] * 3
    assert [f.verdict for f in rsp.findings(p, noisy)] == [Verdict.INCONCLUSIVE] * 3
    assert rsp.findings(p, noisy)[0].estimate.se > 5 * rsp.findings(p, steady)[0].estimate.se


def test_report_section_renders_self_preference_and_adversarial_state(raw_params, repo, tmp_path):
    from gendiv.measure.adversarial import METRICS as ADV

    p = _params(raw_params, repo)
    text = "\n".join(rsp.section(p, tmp_path))
    assert "`self_preference` stage has not run" in text and "`adversarial` stage has not run" in text
    write_json(tmp_path / sp.METRICS, _metrics(CLAIMED))
    write_json(tmp_path / ADV, {"ran": False, "reason": "no prompt set"})
    text = "\n".join(rsp.section(p, tmp_path))
    assert "| base |" in text and text.count("**reproduced**") == 3
    assert "**not run at this scale**: no prompt set" in text

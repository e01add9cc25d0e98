"""A tiny randomly initialised Llama with the base model's tokenizer, for fast model tests."""

from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@lru_cache(maxsize=1)
def _tokenizer_dir() -> str:
    """The base model's tokenizer, read from the packaged GGUF once per test session.

    Tests must not need models/base: it is a DVC output, absent from a fresh clone.
    """
    import tempfile

    from transformers import AutoTokenizer

    from gendiv.config import load_params
    from gendiv.prepare.base_model import gguf_path

    base = load_params(REPO / "params.yaml").models.base
    gguf = gguf_path(base.gguf_package, base.gguf_file)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    target = tempfile.mkdtemp(prefix="gendiv-tokenizer-")
    tokenizer.save_pretrained(target)
    return target


def base_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(_tokenizer_dir())


def make_tiny_llama(dest: Path, seed: int = 0) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = base_tokenizer()
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    return dest

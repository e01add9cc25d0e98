"""gendiv: how the diversity of LLM-generated data changes the model fine-tuned on it."""

__version__ = "0.1.0"

"""Phase train: one LoRA run per (task, set, seed) and its evaluation.

finetune  `gendiv train`: fine-tune the base model on one set, evaluate, write the run's outputs
checkpoints  a run's Trainer checkpoints: resume a killed run, start a changed one over
evaluate  `gendiv evaluate`: test loss and examples of a model (the base model or an adapter)
runs      where each run's adapter, metrics and examples live
"""

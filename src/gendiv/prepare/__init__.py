"""Phase prepare: the real data splits and the models every later stage starts from.

bundled           the sample data shipped in data/bundled (read by config's checks and by real)
real              `gendiv prepare-real`: normalized train/test splits of the real data
base_model        `gendiv base-model`: the model fine-tuned in every run
generator_models  `gendiv generator-models`: local generator models
"""

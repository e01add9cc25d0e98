"""Phase mix: training sets built from real and generated sets (no LLM calls).

sets     `gendiv mix`: fixed-size, expansion and dataset-size sets
sources  `gendiv mix-sources`: the multi-source set from the single-source sets
"""

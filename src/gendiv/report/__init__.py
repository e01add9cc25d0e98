"""Phase report: recorded numbers -> findings -> reports/REPORT.md, one module per section.

assemble         `gendiv report`: figures and the assembled REPORT.md
results          test losses and their noise, read from the training runs
stats            the one significance rule (`judge`) and the `Verdict` type
claims           the paper's claims, each judged once
manipulation, size, sources, self_preference, cost, tables, provenance: one section each
common           what the sections share (figure saving and links, paired errors)
"""

"""Execute stage: runs a PipelineGraph locally, step by step, with caching by content hash.

Input: the IR (never specs: import-linter forbids `compiler.spec`, `compiler.load` and
`compiler.validate` here). Output: artifacts in the store, run records, `charter.lock`.
This is the only package that imports polars, pandas and scikit-learn, and only inside the
functions of the steps that really run, so a fully cached run does not pay for them.
"""

"""The analysis stages, in the order of the data flow (DESIGN.md): ingest -> features ->
sentiment -> segments -> drivers -> geography -> changes -> gates.

Each stage is a plain function of data and typed config that returns a typed result and does no
I/O; ``segment_report.pipeline.runner`` declares what each reads and writes, and the run-folder
store does the reading and writing.
"""

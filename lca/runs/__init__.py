"""One run end to end: its settings and typed result (:mod:`.result`), the pipeline that computes it
(:mod:`.pipeline`), the activation matrices it reads (:mod:`.inputs`: their cache keys, shared with sweeps and
distributed extraction; :mod:`.activations`: a finished run's matrices read back), repeated seeds
(:mod:`.seeds`), the memory it needs (:mod:`.memory`) and the store of finished runs on disk (:mod:`.store`).

May import :mod:`lca.method` and every layer below it.
"""

"""Many runs: the server's job queue (:mod:`.jobs`, :mod:`.job_targets`, and :mod:`.estimate`, the time its jobs
take, from the stages of those that finished), sweeps on Ray (:mod:`.sweep`,
:mod:`.sweep_spec`, :mod:`.sweep_tasks`, :mod:`.sweep_table`), distributed extraction (:mod:`.distributed`)
and one task across parallel languages (:mod:`.parallel`).

May import :mod:`lca.causal` and every layer below it.
"""

"""The sweep (``python -m bench``, ``lbb bench``).

``session`` runs it from start to finish (resume, signals, the run's status): the runtime pass
(pytest-benchmark: ``runtime_plugin`` drives ``bench_runtime``), the memory pass
(``memory_pass``), the headline pass, and ``console``'s summary table.
"""

"""The sweep (``python -m bench``, ``lbb bench``).

``cli`` runs it: the runtime pass (pytest-benchmark: ``runtime_plugin`` drives ``bench_runtime``),
the memory pass (``memory_pass``), the headline pass, and ``console``'s summary table.
"""

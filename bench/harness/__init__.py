"""The measuring machinery that the sweep, the headline and the gate share.

``roofs`` (GEMM, copy), ``budget`` (the memory guard), ``threads``, ``machine`` (run.json's machine
facts), ``peak`` (one call's peak bytes), ``children`` and ``forkserver_group`` (no process outlives
its run), ``progress``.
"""

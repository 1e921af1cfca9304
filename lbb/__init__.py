"""The command layer: the ``lbb`` console script and one module per command (``lbb.commands``).

It sits above both bench/ (measuring) and analysis/ (judging, drawing), and composes them, the
way asv's and memray's ``commands/`` packages do; bench/ and analysis/ never import it. Every
option is defined once, with its validator and its one error wording, in :mod:`lbb.options`.
"""

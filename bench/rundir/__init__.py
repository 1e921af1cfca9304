"""The run directory, one owner per file.

``records`` reads and writes the run files, ``fields`` checks their fields, ``store`` writes them
atomically, ``lock`` keeps one writer per directory, ``directory`` makes a new one.
"""

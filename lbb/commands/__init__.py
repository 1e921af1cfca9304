"""One module per ``lbb`` command; each composes the measuring (bench/), judging and rendering
(analysis/) code and imports no other command. Each has ``main(argv) -> int``."""

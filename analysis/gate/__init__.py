"""The regression gate's deciding side: time and memory verdicts, the baseline record, history, the CLI."""

"""The report's charts, one module each; :mod:`analysis.report.charts.registry` lists them."""

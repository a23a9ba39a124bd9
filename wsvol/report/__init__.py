"""Reports: tables built from evaluation results, written as HTML, JSON and CSV, and printed.

``build_report`` turns per-method :class:`~wsvol.evaluation.EvaluationResult` s into plain tables;
``write_report`` writes them (``report.html`` with embedded pictures, ``report.json``,
``tables/*.csv``); ``print_report`` shows the main tables in a terminal.
"""

from wsvol.report.console import print_report
from wsvol.report.files import write_report
from wsvol.report.tables import SIZE_BINS, TABLES, build_report, size_names

__all__ = ["SIZE_BINS", "TABLES", "build_report", "print_report", "size_names", "write_report"]

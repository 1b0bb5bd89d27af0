"""Reports people read: the data-quality report, the evaluation workbook and the dashboard.

Each module is imported on its own (``from pipelines.reports.workbook import ...``); nothing
here imports Great Expectations (``pipelines.quality.expectations`` does, inside its function).
"""

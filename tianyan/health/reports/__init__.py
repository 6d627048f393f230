"""KPI reports as people read them: periods, work-order statistics, terminal table, JSON, Excel and PDF, monthly."""

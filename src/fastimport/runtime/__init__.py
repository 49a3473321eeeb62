"""Run-time side: per-function state, dispatch, deopt, statistics and the report."""

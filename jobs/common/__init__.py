"""What every job shares: the run's context, settings, options, events, report rows and the dry-run gate.

Light to import: `jobs.cli` loads `flags` and `settings` from here before it knows which job runs.
"""

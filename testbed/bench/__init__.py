"""Benchmarks of the testbed (not tests), run by `bin/bench`; each module's docstring says what it measures.

`sim`: the Kaltura simulator. `listing`: listing entries. `s3copy`: the s3copy job against `sequential` (the
old algorithm) and `anchors` (rclone, aws-cli) on `workloads`, measured by `measure`, shown by `report`.
"""

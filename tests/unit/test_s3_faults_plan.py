"""The fault proxy's pure parts: naming S3 operations from requests, and fault plans from control bodies."""

from __future__ import annotations

import pytest

from testbed.s3_faults import FaultPlan, S3FaultProxy, operation_of


@pytest.mark.parametrize(
    ("method", "path", "query", "headers", "operation"),
    [
        ("PUT", "/b/k", {"partNumber": "1", "uploadId": "u"}, {}, "UploadPart"),
        ("PUT", "/b/k", {"partNumber": "1", "uploadId": "u"}, {"x-amz-copy-source": "x"}, "UploadPartCopy"),
        ("PUT", "/b/dir/k", {}, {}, "PutObject"),
        ("PUT", "/b/k", {"tagging": ""}, {}, "PutObjectTagging"),
        ("GET", "/b/k", {"tagging": ""}, {}, "GetObjectTagging"),
        ("POST", "/b/k", {"uploads": ""}, {}, "CreateMultipartUpload"),
        ("POST", "/b/k", {"uploadId": "u"}, {}, "CompleteMultipartUpload"),
        ("DELETE", "/b/k", {"uploadId": "u"}, {}, "AbortMultipartUpload"),
        ("HEAD", "/b/k", {}, {}, "HeadObject"),
        ("GET", "/b/k", {}, {}, "GetObject"),
        ("GET", "/b", {"uploads": ""}, {}, "ListMultipartUploads"),
        ("GET", "/b/", {"list-type": "2"}, {}, "ListObjectsV2"),
        ("GET", "/b/", {}, {}, "ListObjects"),
        ("HEAD", "/b", {}, {}, "HeadBucket"),
        ("PUT", "/b", {}, {}, "CreateBucket"),
        ("GET", "/", {}, {}, "ListBuckets"),
    ],
)
def test_operations_are_named_from_method_path_and_query(
    method: str, path: str, query: dict[str, str], headers: dict[str, str], operation: str
) -> None:
    assert operation_of(method, path, query, headers) == operation


def test_plan_from_control_body_keeps_unknown_keys_out() -> None:
    plan = FaultPlan.from_json({"slowdown_rate": 0.3, "operations": ["PutObject"], "bogus": 1})
    assert plan == FaultPlan(slowdown_rate=0.3, operations=frozenset({"PutObject"}))


def test_rates_outside_0_1_are_refused() -> None:
    with pytest.raises(ValueError, match="fractions"):
        FaultPlan.from_json({"reset_rate": 1.5})


def test_next_n_faults_come_first_then_none() -> None:
    proxy = S3FaultProxy("http://127.0.0.1:1", plan=FaultPlan(slowdown_next=2, reset_next=1))
    decisions = [proxy._decide("UploadPart") for _ in range(4)]
    assert decisions == ["slowdown", "slowdown", "reset", None]


def test_faults_hit_only_the_planned_operations() -> None:
    proxy = S3FaultProxy("http://127.0.0.1:1", plan=FaultPlan(slowdown_rate=1.0))
    assert proxy._decide("PutObject") is None
    assert proxy._decide("UploadPart") == "slowdown"


def test_draws_are_reproducible_with_a_seed() -> None:
    def run(seed: int) -> list[str | None]:
        proxy = S3FaultProxy(
            "http://127.0.0.1:1", seed=seed, plan=FaultPlan(slowdown_rate=0.3, reset_rate=0.2)
        )
        return [proxy._decide("UploadPart") for _ in range(50)]

    assert run(5) == run(5)
    assert run(5) != run(6)
    assert set(run(5)) == {"slowdown", "reset", None}


def test_hidden_headers_come_from_the_control_body_in_lower_case() -> None:
    plan = FaultPlan.from_json({"hide_headers": ["X-Amz-Tagging-Count"], "conflict_next": 1})
    assert plan.hide_headers == frozenset({"x-amz-tagging-count"})
    assert plan.as_json()["hide_headers"] == ["x-amz-tagging-count"]
    proxy = S3FaultProxy("http://127.0.0.1:1", plan=plan)
    assert [proxy._decide("UploadPart") for _ in range(2)] == ["conflict", None]

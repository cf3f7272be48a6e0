"""runner.mutating and its classifier of the world's call names; no emulator, no cluster.

    .venv/bin/python -m pytest -q tests/integration/test_runner.py
"""

from __future__ import annotations

import pytest

from .runner import is_mutating, mutating

# Names as the world counts them (tests/world/awsreq.py): every one a seed, a module or a test
# makes, from a run against the world, plus the edge cases of the rule.
CALLS = [
    # RDS (query protocol)
    ("rds:DescribeDBInstances", False),
    ("rds:DescribeDBSubnetGroups", False),
    ("rds:ListTagsForResource", False),
    ("rds:PromoteReadReplica", True),
    ("rds:AddTagsToResource", True),
    ("rds:ModifyDBInstance", True),
    ("rds:DeleteDBInstance", True),
    ("rds:CreateDBInstance", True),
    ("rds:CreateDBInstanceReadReplica", True),
    ("rds:CreateDBSubnetGroup", True),
    ("rds:RebootDBInstance", True),
    # CloudWatch (RPCv2 CBOR)
    ("cloudwatch:GetMetricData", False),
    ("cloudwatch:GetMetricStatistics", False),
    ("cloudwatch:PutMetricData", True),
    # EKS (REST-JSON)
    ("eks:DescribeCluster", False),
    ("eks:DescribeNodegroup", False),
    ("eks:ListClusters", False),
    ("eks:ListNodegroups", False),
    ("eks:UpdateNodegroupConfig", True),
    ("eks:CreateCluster", True),
    ("eks:CreateNodegroup", True),
    # SSM (JSON): the failover lock
    ("ssm:GetParameter", False),
    ("ssm:GetParametersByPath", False),
    ("ssm:PutParameter", True),
    ("ssm:DeleteParameter", True),
    # Route 53 (REST-XML, global)
    ("route53:ListHostedZones", False),
    ("route53:ListHostedZonesByName", False),
    ("route53:ListResourceRecordSets", False),
    ("route53:ListHealthChecks", False),
    ("route53:GetHealthCheckStatus", False),
    ("route53:GetChange", False),
    ("route53:TestDNSAnswer", False),
    ("route53:ChangeResourceRecordSets", True),
    ("route53:ChangeTagsForResource", True),
    ("route53:CreateHealthCheck", True),
    ("route53:CreateHostedZone", True),
    ("route53:UpdateHealthCheck", True),
    # S3 (REST-XML)
    ("s3:HeadBucket", False),
    ("s3:HeadObject", False),
    ("s3:GetObject", False),
    ("s3:GetBucketVersioning", False),
    ("s3:GetBucketReplication", False),
    ("s3:ListBuckets", False),
    ("s3:ListObjectsV2", False),
    ("s3:ListObjectVersions", False),
    ("s3:SelectObjectContent", False),  # a POST that only reads
    ("s3:PutObject", True),
    ("s3:CopyObject", True),
    ("s3:DeleteObject", True),
    ("s3:DeleteObjects", True),  # a POST ?delete
    ("s3:CreateBucket", True),
    ("s3:PutBucketVersioning", True),
    ("s3:PutBucketReplication", True),
    ("s3:PutBucketTagging", True),
    ("s3:RestoreObject", True),
    # a REST call the world could not match to an operation: named by its method
    ("s3:GET", False),
    ("s3:HEAD", False),
    ("unknown:GET", False),  # unsigned
    ("s3:PUT", True),
    ("s3:POST", True),
    ("s3:DELETE", True),
    ("unknown:POST", True),
    # EC2, ELBv2, IAM, STS
    ("ec2:DescribeInstances", False),
    ("ec2:DescribeVpcs", False),
    ("ec2:CreateVpc", True),
    ("ec2:CreateSubnet", True),
    ("ec2:StopInstances", True),
    ("elbv2:DescribeLoadBalancers", False),
    ("elbv2:DescribeTargetHealth", False),
    ("elbv2:CreateLoadBalancer", True),
    ("elbv2:ModifyListener", True),
    ("iam:GetRole", False),
    ("iam:ListRoles", False),
    ("iam:SimulatePrincipalPolicy", False),
    ("iam:CreateRole", True),
    ("iam:PassRole", True),  # not an API call, but nothing by this name is read-only
    ("sts:GetCallerIdentity", False),
    ("sts:AssumeRole", False),
    ("sts:AssumeRoleWithWebIdentity", False),
    # other read-only prefixes
    ("cloudtrail:LookupEvents", False),
    ("resource-groups:SearchResources", False),
    ("events:TestEventPattern", False),
    ("dynamodb:BatchGetItem", False),
    ("dynamodb:Query", False),
    ("dynamodb:Scan", False),
    ("dynamodb:BatchWriteItem", True),
    # a prefix only at a word boundary
    ("x:Getaway", True),
    ("x:Listen", True),
    ("x:Testify", True),
    ("x:Headquarter", True),
    # a read-only exception is per service: dynamodb's Query is not everyone's
    ("sts:Query", True),
    ("dynamodb:AssumeRole", True),
]


@pytest.mark.parametrize("name,expected", CALLS, ids=[call[0] for call in CALLS])
def test_is_mutating(name, expected):
    assert is_mutating(name) is expected


def test_mutating_keeps_the_nonzero_mutating_calls_of_every_service():
    calls = {"total": 9, "by_operation": {
        "rds:DescribeDBInstances": 4, "rds:PromoteReadReplica": 1, "ssm:PutParameter": 1,
        "eks:UpdateNodegroupConfig": 1, "route53:ChangeResourceRecordSets": 1, "s3:PutObject": 1,
        "ssm:DeleteParameter": 0}, "by_region": {}, "errors": {}}
    assert mutating(calls) == {"eks:UpdateNodegroupConfig": 1, "rds:PromoteReadReplica": 1,
                               "route53:ChangeResourceRecordSets": 1, "s3:PutObject": 1, "ssm:PutParameter": 1}
    assert mutating(calls["by_operation"]) == mutating(calls)  # the by_operation dict alone will do


def test_mutating_adds_the_kubernetes_writes():
    world = {"by_operation": {"ssm:GetParameter": 2, "ssm:PutParameter": 1}}
    k8s = {"k8s:eu-west-2:patch deployments/scale": 9, "k8s:eu-west-1:create configmaps": 0}
    assert mutating(world, k8s) == {"k8s:eu-west-2:patch deployments/scale": 9, "ssm:PutParameter": 1}
    assert mutating(None, k8s) == {"k8s:eu-west-2:patch deployments/scale": 9}
    assert mutating(world) == mutating(world, {}) == mutating(world, None) == {"ssm:PutParameter": 1}


def test_a_pure_read_run_is_empty():
    world = {"total": 3, "by_operation": {"rds:DescribeDBInstances": 2, "cloudwatch:GetMetricData": 1},
             "by_region": {}, "errors": {}}
    assert mutating(world, {}) == {}
    assert mutating({"total": 0, "by_operation": {}, "by_region": {}, "errors": {}}) == {}

"""A fake AWS account (moto, in-process: no network) with CAPA's prerequisites.

Import this module before anything imports moto: moto reads MOTO_AMIS_PATH at import,
and the fixture holds the prod stack's pinned AMI.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("MOTO_AMIS_PATH", str(Path(__file__).parent / "fixtures" / "moto-amis.json"))

import boto3
import botocore.session
from moto import mock_aws

from components.control_plane.preflight import INSTANCE_PROFILES
from tools.offline import environment

# One botocore session for every test: service models are parsed once, not per client.
_BOTOCORE = botocore.session.get_session()
REGION = "eu-west-1"
PINNED_AMI = "ami-0123456789abcdef0"
KEY_PAIR = "prod-ssh"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


@contextmanager
def fake_aws(
    *,
    profiles: tuple[str, ...] = INSTANCE_PROFILES,
    roleless: tuple[str, ...] = (),
    key_pairs: tuple[str, ...] = (KEY_PAIR,),
) -> Iterator[boto3.Session]:
    """moto with the given instance profiles (with a role unless in `roleless`) and key
    pairs; the pinned AMI always exists."""
    # Skipping the ~1,000 AWS managed policies makes IAM start in milliseconds.
    with (
        environment(FAKE_CREDENTIALS),
        mock_aws(config={"iam": {"load_aws_managed_policies": False}}),
    ):
        session = boto3.Session(region_name=REGION, botocore_session=_BOTOCORE)
        iam = session.client("iam")
        for name in profiles:
            iam.create_instance_profile(InstanceProfileName=name)
            if name not in roleless:
                iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
                iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
        ec2 = session.client("ec2")
        for key in key_pairs:
            ec2.create_key_pair(KeyName=key)
        yield session

# Drives moto's S3 server for backup_s3.rs through boto3 (the AWS SDK, a
# client no one here wrote). `setup ENDPOINT BUCKET` creates the bucket and
# an IAM user allowed s3:* with an access key, then turns moto's request
# signing checks on (from then on every request needs that key) and prints
# the key as JSON. `list ENDPOINT BUCKET PREFIX KEY SECRET` prints the
# objects under PREFIX as JSON ({key: size}). `flip ENDPOINT BUCKET KEY
# OFFSET KEY_ID SECRET` rewrites object KEY with the byte at OFFSET flipped.
import json
import sys
import urllib.request

import boto3

command, endpoint, bucket = sys.argv[1], sys.argv[2], sys.argv[3]


def client(service, key_id="setup", secret="setup"):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
    )


if command == "setup":
    client("s3").create_bucket(Bucket=bucket)
    iam = client("iam")
    iam.create_user(UserName="landlord")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
    iam.put_user_policy(
        UserName="landlord", PolicyName="backups", PolicyDocument=json.dumps(policy)
    )
    key = iam.create_access_key(UserName="landlord")["AccessKey"]
    urllib.request.urlopen(
        urllib.request.Request(
            endpoint + "/moto-api/reset-auth",
            data=b"0",
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
    ).read()
    print(
        json.dumps(
            {
                "access_key_id": key["AccessKeyId"],
                "secret_access_key": key["SecretAccessKey"],
            }
        )
    )
elif command == "list":
    prefix, key_id, secret = sys.argv[4], sys.argv[5], sys.argv[6]
    s3 = client("s3", key_id, secret)
    objects = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            objects[item["Key"]] = item["Size"]
    print(json.dumps(objects))
elif command == "flip":
    key, offset, key_id, secret = sys.argv[4], int(sys.argv[5]), sys.argv[6], sys.argv[7]
    s3 = client("s3", key_id, secret)
    body = bytearray(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    body[offset] ^= 0x01
    s3.put_object(Bucket=bucket, Key=key, Body=bytes(body))
    print(json.dumps({"key": key, "size": len(body)}))
else:
    raise SystemExit(f"unknown command {command}")

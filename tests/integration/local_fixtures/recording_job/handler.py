"""A scheduled job that records each event it gets as an item, so a test can see when and how it fired."""

import os
from typing import Any

import boto3


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    boto3.client("dynamodb").put_item(
        TableName=os.environ["FIRSTMILE_TABLE_NAME"],
        Item={
            "pk": {"S": "FIXTURE#scheduled"},
            "sk": {"S": event["id"]},
            "scheduled_time": {"S": event["time"]},
            "source": {"S": event["source"]},
        },
    )
    return {"recorded": event["id"]}

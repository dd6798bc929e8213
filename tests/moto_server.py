"""moto's server, with each DynamoDB call atomic and transactions cheap.

moto answers requests on many threads, but its DynamoDB backend is not thread-safe:
TransactWriteItems snapshots whole tables, writes item by item and, when a condition fails,
restores the snapshots, undoing whatever other clients wrote in between (and it can crash with
"dictionary changed size during iteration"). DynamoDB itself makes every call atomic; so does this
wrapper, by running one DynamoDB call at a time. Clients still race each other: conditional
writes and transactions decide the winners exactly as they do against DynamoDB.

moto's snapshot is a deep copy of every table a transaction touches, which grows with the table
(a 10k-record audit trail makes each append take seconds). For transactions of puts, deletes and
condition checks, which replace items rather than change them in place, a copy of the table's
item index is the same snapshot at a fraction of the cost; transactions with updates keep moto's
deep copy.

Under IAM enforcement (`POST /moto-api/reset-auth`), moto's AccessDenied body nests the error as
`<ErrorResponse><Errors><Error>`, which the query protocol (STS, IAM, SNS) does not read: clients
saw an error with no code. AWS's query services send `<ErrorResponse><Error>`, EC2 sends
`<Response><Errors><Error>`; moto raises the same error for both, so this wrapper's body holds
the error both ways (each client reads the child it knows, under any root); JSON services read the
code from the X-Amzn-ErrorType header either way.

Usage: python tests/moto_server.py -H 127.0.0.1 -p PORT   (the same arguments as moto_server)
"""

import copy
import sys
import threading
from collections import defaultdict

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.core.exceptions import AccessDeniedError
from moto.server import main
from xmltodict import unparse

_one_call_at_a_time = threading.RLock()
_call_action = DynamoHandler.call_action


def _atomic_call_action(self):
    with _one_call_at_a_time:
        return _call_action(self)


DynamoHandler.call_action = _atomic_call_action


class _ItemIndexCopy:
    """Stands in for the `copy` module inside moto's transact_write_items."""

    @staticmethod
    def deepcopy(value, memo=None):
        if isinstance(value, Table) and isinstance(value.items, dict):
            snapshot = copy.copy(value)
            snapshot.items = defaultdict(dict)
            for key, entry in value.items.items():
                snapshot.items[key] = dict(entry) if isinstance(entry, dict) else entry
            return snapshot
        return copy.deepcopy(value, memo)


_transact_write_items = DynamoDBBackend.transact_write_items


def _transact_write_items_cheaply(self, transact_items):
    replaces_only = all(
        next(iter(item)) in ("Put", "Delete", "ConditionCheck") for item in transact_items
    )
    if not replaces_only:
        return _transact_write_items(self, transact_items)
    real_copy = dynamodb_models.copy
    dynamodb_models.copy = _ItemIndexCopy
    try:
        return _transact_write_items(self, transact_items)
    finally:
        dynamodb_models.copy = real_copy


DynamoDBBackend.transact_write_items = _transact_write_items_cheaply

_access_denied_init = AccessDeniedError.__init__


def _access_denied_as_aws_sends_it(self, user_arn, action):
    _access_denied_init(self, user_arn, action)
    error = {"Type": "Sender", "Code": "AccessDenied", "Message": self.message}
    self.description = unparse(
        {
            "ErrorResponse": {
                "Error": error,
                "Errors": {"Error": error},
                "RequestId": "moto-access-denied",
            }
        },
        full_document=True,
    )


AccessDeniedError.__init__ = _access_denied_as_aws_sends_it

if __name__ == "__main__":
    sys.exit(main())

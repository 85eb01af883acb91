"""`stockade audit`: check a deployed account against the perimeter's invariants (boto3, read-only).

The stack's resources are found through the Resource Groups Tagging API by the
`stockade:stack` tag every Stockade resource carries (stockade/tags.py). Every
API call is a read; `READ_ONLY_POLICY` is the exact IAM policy the audit needs.
"""

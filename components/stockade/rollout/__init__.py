"""Multi-account rollouts: ordered waves of stacks, run by reusable worker processes on the Automation API.

Importing this package stays cheap: pulumi, boto3 and rich load only in the modules that
use them, so `stockade --help` and plan validation never pay for them.
"""

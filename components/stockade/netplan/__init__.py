"""Pure network planning (subnet layout, egress destinations): no Pulumi, no cloud SDK.

Settings validation and the AWS components both stand on it, so it sits below both.
"""

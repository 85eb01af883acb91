"""Stockade: Pulumi components for Claude Managed Agents inside the customer's perimeter.

Importing the package is cheap on purpose: provider SDKs load only when a
component that needs them is built, so `stockade --help` stays fast.
"""

__version__ = "0.1.0"

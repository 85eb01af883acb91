"""The ProviderBridge: where a managed provider's orchestrator runs inside the account."""

from stockade.aws.bridge.provider_bridge import ProviderBridge, ProviderBridgeArgs

__all__ = ["ProviderBridge", "ProviderBridgeArgs"]

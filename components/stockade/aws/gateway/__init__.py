"""The MCP tunnel gateway: mcp-proxy and cloudflared on Fargate, its setup task and monitoring."""

from stockade.aws.gateway.tunnel_gateway import TunnelGateway, TunnelGatewayArgs

__all__ = ["TunnelGateway", "TunnelGatewayArgs"]

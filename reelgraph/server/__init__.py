"""reelgraph server: aiohttp REST + WebSocket API over the engine."""

__version__ = "0.1.0"

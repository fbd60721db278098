"""reelgraph server: aiohttp REST + WebSocket API over the engine."""

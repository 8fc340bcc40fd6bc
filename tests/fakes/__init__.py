"""Local stand-ins for Finnhub's REST API and trade websocket, for the real clients to talk to."""

"""The agent desk: the desk WebSocket protocol, its hub, routes and the static desk UI."""

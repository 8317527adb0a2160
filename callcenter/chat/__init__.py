"""Web chat for customers: the chat WebSocket, chat sessions that survive a reconnect,
and the embeddable customer page."""

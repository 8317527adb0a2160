"""callcenter simulator: synthetic and recorded traffic through the real engines or a running server."""

"""Users, roles, password login, server-side sessions and CSRF protection."""

"""Who is calling, and which connections they may use."""

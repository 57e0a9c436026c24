"""Human approval of held output."""

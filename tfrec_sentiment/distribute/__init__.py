"""distribute stage."""

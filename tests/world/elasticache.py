"""World realism for elasticache (filled in next; hooked in by realism.EXTENSIONS)."""

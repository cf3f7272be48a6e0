"""World realism for rds_modify (filled in next; hooked in by realism.EXTENSIONS)."""

"""Excel in and out: forms, reading, annotated copies, safe writing."""

"""`charter serve`: a promoted model package behind KServe's Python model server."""

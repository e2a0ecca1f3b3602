"""The segments stage: features -> UMAP + HDBSCAN -> personas."""

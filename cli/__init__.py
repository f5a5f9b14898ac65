"""The conceptvae command line: thin Click commands over the library."""

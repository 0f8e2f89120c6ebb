"""Handler kit: small modules a service copies into its ``src/`` (handlers never import
archway on Lambda). Each copy must stay identical to the module here (tests check)."""

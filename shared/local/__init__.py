"""The local cloud: moto on 127.0.0.1, Lambda runner, API router, edge router."""

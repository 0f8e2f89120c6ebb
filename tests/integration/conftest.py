from helpers.local_platform import local_platform  # noqa: F401 - the session fixture

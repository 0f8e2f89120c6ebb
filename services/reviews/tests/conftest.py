"""Reviews handler tests (reviews and view counters): Archway's service test kit.

Tables come from service.yaml, events from tests/events/ (see archway.shared.testing).
"""

from archway.shared.testing import call, event, service, src_module, tables  # noqa: F401
